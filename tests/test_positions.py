from __future__ import annotations
import itertools
from typing import Any
import psycopg, pytest
from defi_sql.models import NewPosition
from .conftest import Api

W = "0x1234567890ABCDEF1234567890abcdef12345678"

def collect(api, gen, n):
    if api.kind == "async":
        async def go():
            out = []
            async for p in gen:
                out.append(p)
                if len(out) >= n: break
            await gen.aclose()
            return out
        return api._run(go())
    return list(itertools.islice(gen, n))

@pytest.mark.parametrize("batch", [0, -1])
def test_probe(api: Api, db: psycopg.Connection[Any], batch) -> None:
    u = api.users.create(wallet_address=W)
    api.positions.ingest([NewPosition(user_id=u.id, wallet_address=W, protocol="aave")] * 3)
    try:
        print(api.kind, batch, len(collect(api, api._package.positions.iterate_all(api.conn, batch=batch), 10)))
    except BaseException as e:
        print(api.kind, batch, type(e).__name__, e)
