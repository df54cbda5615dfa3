-- The read-replicas section's own statements (bench/replicas.py, #12).

-- name: replicas_server()^
-- Where the server keeps its files and its major version: which embedded
-- server (its root folder and version) the section's replica is made of.
SELECT current_setting('data_directory') AS data_directory,
       current_setting('server_version_num')::int / 10000 AS version;
