/**
 * Lucid 21 standalone, without an AdonisJS HTTP server: the Database service
 * built as Lucid's own provider builds it (a config, a logger, an emitter on an
 * application), and the models bound to it through the model adapter.
 */
import { AppFactory } from '@adonisjs/core/factories/app'
import { Emitter } from '@adonisjs/core/events'
import { Logger } from '@adonisjs/core/logger'
import { Database } from '@adonisjs/lucid/database'
import { BaseModel } from '@adonisjs/lucid/orm'

export async function connect(url: string): Promise<Database> {
  const app = new AppFactory().create(new URL('../', import.meta.url), () => {})
  await app.init()
  const logger = new Logger({ enabled: false })
  const emitter = new Emitter(app)
  const db = new Database(
    {
      connection: 'pg',
      connections: {
        pg: {
          client: 'pg',
          connection: { connectionString: url },
          pool: { min: 0, max: 2 },
        },
      },
    },
    logger,
    emitter,
  )
  BaseModel.$adapter = db.modelAdapter()
  return db
}
