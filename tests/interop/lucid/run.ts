/**
 * The Lucid side of tests/test_interop_lucid.py: one named scenario per run.
 *
 *   npm ci && npm run build          # tsc: strict, legacy decorators, into build/
 *   DATABASE_URL=postgresql://... node build/run.js SCENARIO '{"json": "arguments"}'
 *
 * Prints exactly one JSON object on stdout and exits 0, also when the database
 * refuses something: a refused write is {"error": message, "code": SQLSTATE,
 * "constraint": name}, in place of the whole result or of one step's result
 * (scenarios of several writes report each one). Exit status 2 is a usage
 * error (unknown scenario, bad arguments), 1 a crash of this script.
 *
 * Models and queries are written as the design document's examples show them;
 * each result is the models' own serialize() (camelCase keys, ISO timestamps).
 */
import { DateTime } from 'luxon'
import { connect } from './start/database.js'
import {
  AlertModel,
  PositionModel,
  SignalModel,
  UserModel,
} from './app/infrastructure/database/models/index.js'
import type { Asset, UserPreferences } from './app/infrastructure/database/models/index.js'

type Args = Record<string, any>
type Json = Record<string, unknown>

/** What the app sees of a refused query: the driver's error, with its SQLSTATE and constraint. */
function refusal(error: unknown): Json {
  const e = error as { message?: string; code?: string; constraint?: string }
  return { error: String(e?.message ?? error), code: e?.code ?? null, constraint: e?.constraint ?? null }
}

/** One step of a scenario: its result, or the refusal, so later steps still run. */
async function attempt(step: () => Promise<Json>): Promise<Json> {
  try {
    return await step()
  } catch (error) {
    return refusal(error)
  }
}

/** A JSON object nested `depth` levels deep: {"next": {"next": ... {} }}. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {}
  for (let level = 1; level < depth; level++) value = { next: value }
  return value
}

function positionAttributes(args: Args) {
  return {
    userId: args.userId as string,
    walletAddress: args.walletAddress as string,
    protocol: (args.protocol ?? 'aave') as string,
    chainId: (args.chainId ?? 1) as number,
    healthFactor: (args.healthFactor ?? null) as number | null,
    collateral: (args.collateral ?? []) as Asset[],
    debt: (args.debt ?? []) as Asset[],
    metadata: (args.metadataDepth ? nested(args.metadataDepth) : (args.metadata ?? {})) as Json,
    snapshotAt: args.snapshotAt ? DateTime.fromISO(args.snapshotAt) : DateTime.now(),
  }
}

const scenarios: Record<string, (args: Args) => Promise<Json>> = {
  /** The design document's "Usage Examples": a user, a position, then a signal and an alert. */
  async 'create-document-examples'(args) {
    const user = await UserModel.create({
      walletAddress: args.walletAddress,
      preferences: {
        riskProfile: 'moderate',
        alertThresholds: { healthFactor: 1.5 },
        notificationChannels: ['telegram', 'in_app'],
      },
    })
    const position = await PositionModel.create({
      userId: user.id,
      walletAddress: args.walletAddress,
      protocol: 'aave',
      chainId: 1,
      healthFactor: 2.5,
      collateral: [{ symbol: 'ETH', amount: '1.5', valueUSD: '3000' }],
      debt: [{ symbol: 'USDC', amount: '1500', valueUSD: '1500' }],
      metadata: { ltv: '0.5', liquidationThreshold: '0.825' },
      snapshotAt: DateTime.now(),
    })
    const signal = await SignalModel.create({
      type: 'funding_rate',
      asset: 'AAVE',
      severity: 'high',
      data: { value: '0.0125', percentile: 99 },
      detectedAt: DateTime.now(),
      status: 'active',
    })
    const alert = await AlertModel.create({
      userId: user.id,
      signalId: signal.id,
      type: 'signal_detected',
      channel: 'telegram',
      message: 'AAVE funding rate at the 99th percentile',
      metadata: { severity: 'high' },
      status: 'pending',
    })
    for (const model of [user, position, signal, alert]) await model.refresh()
    return {
      user: user.serialize(),
      position: position.serialize(),
      signal: signal.serialize(),
      alert: alert.serialize(),
    }
  },

  /** The design document's "Querying Data" and "Using Relations" examples, for one user. */
  async 'document-queries'(args) {
    const userId: string = args.userId
    const latestPosition = await PositionModel.query()
      .where('userId', userId)
      .orderBy('snapshotAt', 'desc')
      .first()
    const activeSignals = await SignalModel.query().where('asset', 'AAVE').where('status', 'active')
    const pendingAlerts = await AlertModel.query()
      .where('userId', userId)
      .where('status', 'pending')
      .preload('signal')
      .orderBy('createdAt', 'desc')
    const user = await UserModel.query().where('id', userId).preload('positions').first()
    return {
      latestPosition: latestPosition?.serialize() ?? null,
      activeSignals: activeSignals.map((s) => s.serialize()),
      pendingAlerts: pendingAlerts.map((a) => a.serialize()),
      user: user?.serialize() ?? null,
      positionsOfUser: user?.positions.map((p) => [p.protocol, p.healthFactor]) ?? null,
    }
  },

  /**
   * `preferencesDepth` adds a key `deep` nested that many levels; the result is
   * then only the id, since Python's json module refuses documents that deep.
   */
  async 'create-user'(args) {
    const preferences = { ...args.preferences }
    if (args.preferencesDepth) preferences.deep = nested(args.preferencesDepth)
    const user = await UserModel.create({
      walletAddress: args.walletAddress,
      preferences: preferences as UserPreferences,
      telegramChatId: args.telegramChatId ?? null,
    })
    if (args.preferencesDepth) return { id: user.id } // too deep for Python's json module
    await user.refresh()
    return user.serialize()
  },

  async 'get-user'(args) {
    const user = await UserModel.find(args.userId)
    return { user: user?.serialize() ?? null }
  },

  /** The app's way of changing preferences: read, spread a patch over them, save. */
  async 'update-user'(args) {
    const user = await UserModel.findOrFail(args.userId)
    if (args.preferences) user.preferences = { ...user.preferences, ...args.preferences }
    if ('telegramChatId' in args) user.telegramChatId = args.telegramChatId
    await user.save()
    await user.refresh()
    return user.serialize()
  },

  async 'delete-user'(args) {
    const user = await UserModel.findOrFail(args.userId)
    await user.delete()
    return { deleted: user.$isDeleted }
  },

  /** Everything of a user the app can see. */
  async 'user-graph'(args) {
    const user = await UserModel.find(args.userId)
    const positions = await PositionModel.query().where('userId', args.userId)
    const alerts = await AlertModel.query().where('userId', args.userId)
    return {
      user: user?.serialize() ?? null,
      positions: positions.map((p) => p.serialize()),
      alerts: alerts.map((a) => a.serialize()),
    }
  },

  /** `UserModel.findBy('walletAddress', address)` for each address: the user's id or null. */
  async 'find-by-wallet'(args) {
    const found: Json = {}
    for (const address of args.addresses as string[]) {
      found[address] = (await UserModel.findBy('walletAddress', address))?.id ?? null
    }
    return found
  },

  async 'create-position'(args) {
    const position = await PositionModel.create(positionAttributes(args))
    if (args.metadataDepth) return { id: position.id }
    await position.refresh()
    return position.serialize()
  },

  /** The app reads one position: its chain id, and what JS type that value has. */
  async 'get-position'(args) {
    const position = await PositionModel.findOrFail(args.positionId)
    return {
      position: position.serialize(),
      chainIdType: typeof position.chainId,
      chainIdIsSafeInteger: Number.isSafeInteger(position.chainId),
    }
  },

  /** One PositionModel.create per chain id: each one's stored chainId, or the refusal. */
  async 'create-positions-on-chains'(args) {
    const results: Json = {}
    for (const chainId of args.chainIds as number[]) {
      results[String(chainId)] = await attempt(async () => {
        const position = await PositionModel.create(positionAttributes({ ...args, chainId }))
        await position.refresh()
        return { chainId: position.chainId }
      })
    }
    return results
  },

  async 'create-signal'(args) {
    const signal = await SignalModel.create({
      type: args.type,
      asset: args.asset,
      severity: args.severity,
      data: args.data ?? {},
      detectedAt: DateTime.now(),
      status: 'active',
    })
    await signal.refresh()
    return signal.serialize()
  },

  async 'create-alert'(args) {
    const alert = await AlertModel.create({
      userId: args.userId,
      signalId: args.signalId ?? null,
      type: args.type,
      channel: args.channel,
      message: args.message,
      metadata: args.metadataDepth ? nested(args.metadataDepth) : (args.metadata ?? {}),
    })
    if (args.metadataDepth) return { id: alert.id }
    await alert.refresh()
    return alert.serialize()
  },

  /** One AlertModel.create per channel for the same signal, user and type. */
  async 'queue-alert-per-channel'(args) {
    const results: Json = {}
    for (const channel of args.channels) {
      results[channel] = await attempt(async () => {
        const alert = await AlertModel.create({
          userId: args.userId,
          signalId: args.signalId,
          type: args.type,
          channel,
          message: args.message,
          metadata: {},
        })
        await alert.refresh()
        return { channel: alert.channel, status: alert.status }
      })
    }
    return results
  },

  async 'pending-alerts'(args) {
    const alerts = await AlertModel.query()
      .where('userId', args.userId)
      .where('status', 'pending')
      .preload('signal')
      .orderBy('channel')
    return { alerts: alerts.map((a) => a.serialize()) }
  },

  /**
   * The app marks an alert sent its own way: status and sentAt set on the model,
   * then save(); with `withSentAt: false` it forgets sentAt.
   */
  async 'mark-alert-sent'(args) {
    const alert = await AlertModel.findOrFail(args.alertId)
    alert.status = 'sent'
    if (args.withSentAt) alert.sentAt = DateTime.now()
    await alert.save()
    const sentAt = alert.sentAt?.toISO() ?? null
    await alert.refresh()
    return { alert: alert.serialize(), sentAt }
  },

  /**
   * Writes that an older app version (or any untyped caller) could make and that
   * defi-sql's structs could not read: each one's result or refusal.
   */
  async 'write-undecodable'(args) {
    const wallet = (n: number) => `0x${String(n).padStart(40, '0')}`
    const asset = { symbol: 'ETH', amount: '1.5', valueUsd: '3000' } as unknown as Asset
    const { metadataDepth, ...position } = args
    return {
      notificationChannels: await attempt(async () => {
        const preferences = { notificationChannels: ['telegram', 'push'] } as unknown
        const user = await UserModel.create({
          walletAddress: wallet(1),
          preferences: preferences as UserPreferences,
        })
        return user.serialize()
      }),
      riskProfile: await attempt(async () => {
        const preferences = { riskProfile: 'degen' } as unknown
        const user = await UserModel.create({
          walletAddress: wallet(2),
          preferences: preferences as UserPreferences,
        })
        return user.serialize()
      }),
      valueUsd: await attempt(async () => {
        const attributes = positionAttributes({ ...position, collateral: [asset] })
        return (await PositionModel.create(attributes)).serialize()
      }),
      metadataDepth: await attempt(async () => {
        const attributes = positionAttributes({ ...position, metadataDepth })
        return { id: (await PositionModel.create(attributes)).id }
      }),
    }
  },
}

async function main(): Promise<number> {
  const [name, raw] = process.argv.slice(2)
  const scenario = scenarios[name]
  if (!scenario) {
    const usage = `unknown scenario ${JSON.stringify(name)}`
    process.stdout.write(JSON.stringify({ usage, scenarios: Object.keys(scenarios) }) + '\n')
    return 2
  }
  const url = process.env.DATABASE_URL
  if (!url) {
    process.stdout.write(JSON.stringify({ usage: 'DATABASE_URL is not set' }) + '\n')
    return 2
  }
  let args: Args
  try {
    args = raw ? JSON.parse(raw) : {}
  } catch (error) {
    process.stdout.write(JSON.stringify({ usage: `arguments are not JSON: ${error}` }) + '\n')
    return 2
  }
  const db = await connect(url)
  try {
    let result: Json
    try {
      result = await scenario(args)
    } catch (error) {
      result = refusal(error)
    }
    process.stdout.write(JSON.stringify(result) + '\n')
    return 0
  } finally {
    await db.manager.closeAll()
  }
}

process.exitCode = await main()
