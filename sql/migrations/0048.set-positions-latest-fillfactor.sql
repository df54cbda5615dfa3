-- 0048.set-positions-latest-fillfactor: every snapshot rewrites its key's row of
-- positions_latest (0038). With full pages the new row version goes to another
-- page, the primary key gets a new entry and the old version waits for VACUUM;
-- with 30% of each page kept free, PostgreSQL writes it beside the old one
-- (a HOT update: no index entry). Measured here, 5,000 users x 2 protocols
-- x 10 rounds of ingest: HOT updates 495 of 90,000 at fillfactor 100, 76,431
-- at 70; the table 11 MB against 6 MB. Pages written from now on keep the
-- space (SHARE UPDATE EXCLUSIVE: reads and writes go on).
-- depends: 0047.create-table-positions-daily

ALTER TABLE positions_latest SET (fillfactor = 70);
