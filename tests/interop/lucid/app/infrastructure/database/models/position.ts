import { DateTime } from 'luxon'
import { BaseModel, belongsTo, column } from '@adonisjs/lucid/orm'
import type { BelongsTo } from '@adonisjs/lucid/types/relations'
import { json } from './json.js'
import UserModel from './user.js'

/** One entry of `collateral` or `debt`; amounts as decimal strings. */
export interface Asset {
  symbol: string
  amount: string
  valueUSD: string
}

/** node-pg hands `numeric` and `bigint` over as strings. */
const number = { consume: (value: unknown) => (value === null ? value : Number(value)) }

export default class PositionModel extends BaseModel {
  static table = 'positions'

  @column({ isPrimary: true })
  declare id: string

  @column()
  declare userId: string

  @column()
  declare walletAddress: string

  @column()
  declare protocol: string

  /** bigint; the database keeps it at most 2^53 - 1 so that Number() is exact. */
  @column(number)
  declare chainId: number

  /** NULL when the position has no debt. */
  @column(number)
  declare healthFactor: number | null

  @column(json)
  declare collateral: Asset[]

  @column(json)
  declare debt: Asset[]

  @column(json)
  declare metadata: Record<string, unknown>

  @column.dateTime()
  declare snapshotAt: DateTime

  @column.dateTime({ autoCreate: true })
  declare createdAt: DateTime

  @column.dateTime({ autoCreate: true, autoUpdate: true })
  declare updatedAt: DateTime

  @belongsTo(() => UserModel, { foreignKey: 'userId' })
  declare user: BelongsTo<typeof UserModel>
}
