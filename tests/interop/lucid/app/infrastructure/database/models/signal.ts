import { DateTime } from 'luxon'
import { BaseModel, column } from '@adonisjs/lucid/orm'
import { json } from './json.js'

export type Severity = 'low' | 'medium' | 'high' | 'critical'
export type SignalStatus = 'active' | 'expired' | 'acknowledged'

export default class SignalModel extends BaseModel {
  static table = 'signals'

  @column({ isPrimary: true })
  declare id: string

  @column()
  declare type: string

  @column()
  declare asset: string

  @column()
  declare severity: Severity

  @column(json)
  declare data: Record<string, unknown>

  @column.dateTime()
  declare detectedAt: DateTime

  @column.dateTime()
  declare expiresAt: DateTime | null

  @column()
  declare status: SignalStatus

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime
}
