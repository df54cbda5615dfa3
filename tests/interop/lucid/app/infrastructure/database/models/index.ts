export { default as UserModel } from './user.js'
export { default as PositionModel } from './position.js'
export { default as SignalModel } from './signal.js'
export { default as AlertModel } from './alert.js'
export type { UserPreferences, RiskProfile, NotificationChannel } from './user.js'
export type { Asset } from './position.js'

