import { DateTime } from 'luxon'
import { BaseModel, column, hasMany } from '@adonisjs/lucid/orm'
import type { HasMany } from '@adonisjs/lucid/types/relations'
import { json } from './json.js'
import PositionModel from './position.js'
import AlertModel from './alert.js'

export type RiskProfile = 'conservative' | 'moderate' | 'aggressive'
export type NotificationChannel = 'telegram' | 'email' | 'in_app'

/** `users.preferences`: every key optional, as the design document lists them. */
export interface UserPreferences {
  riskProfile?: RiskProfile
  alertThresholds?: { healthFactor?: number; liquidationWarning?: number }
  activeSignals?: string[]
  notificationChannels?: NotificationChannel[]
}

export default class UserModel extends BaseModel {
  static table = 'users'

  @column({ isPrimary: true })
  declare id: string

  @column()
  declare walletAddress: string

  @column(json)
  declare preferences: UserPreferences

  @column()
  declare telegramChatId: string | null

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @hasMany(() => PositionModel, { foreignKey: 'userId' })
  declare positions: HasMany<typeof PositionModel>

  @hasMany(() => AlertModel, { foreignKey: 'userId' })
  declare alerts: HasMany<typeof AlertModel>
}
