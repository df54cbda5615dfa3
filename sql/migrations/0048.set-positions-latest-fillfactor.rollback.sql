-- Undo 0048.set-positions-latest-fillfactor: full pages again (for pages written from now on).

ALTER TABLE positions_latest RESET (fillfactor);
