import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { json } from './json.js'
import SignalModel from './signal.js'
import type { NotificationChannel } from './user.js'

export type AlertStatus = 'pending' | 'sent' | 'failed' | 'acknowledged'

export default class AlertModel extends BaseModel {
  static table = 'alerts'

  @column({ isPrimary: true })
  declare id: string

  @column()
  declare userId: string

  @column()
  declare signalId: string | null

  @column()
  declare type: string

  @column()
  declare channel: NotificationChannel

  @column()
  declare message: string

  @column(json)
  declare metadata: Record<string, unknown>

  @column.dateTime()
  declare sentAt: DateTime | null

  @column.dateTime()
  declare acknowledgedAt: DateTime | null

  @column()
  declare status: AlertStatus

  /** alerts has no updated_at */
  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @belongsTo(() => SignalModel, { foreignKey: 'signalId' })
  declare signal: BelongsTo<typeof SignalModel>
}
