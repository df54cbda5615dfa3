-- Notifications sent (or queued) to users, optionally caused by a signal;
-- the CHECKs keep status and its timestamps consistent.
-- depends: 0004.create-positions

CREATE TABLE alerts (
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id         uuid        NOT NULL,
    signal_id       uuid,
    type            text        NOT NULL,
    channel         text        NOT NULL,
    message         text        NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    sent_at         timestamptz,
    acknowledged_at timestamptz,
    status          text        NOT NULL DEFAULT 'pending',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alerts_pkey PRIMARY KEY (id),
    CONSTRAINT alerts_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT alerts_signal_id_fkey FOREIGN KEY (signal_id)
        REFERENCES signals (id) ON DELETE SET NULL,
    CONSTRAINT alerts_type_check CHECK (type <> ''),
    CONSTRAINT alerts_channel_check CHECK (channel IN ('telegram', 'email', 'in_app')),
    CONSTRAINT alerts_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT alerts_status_check CHECK (status IN ('pending', 'sent', 'failed', 'acknowledged')),
    CONSTRAINT alerts_sent_has_sent_at CHECK (status <> 'sent' OR sent_at IS NOT NULL),
    CONSTRAINT alerts_acknowledged_has_acknowledged_at CHECK (status <> 'acknowledged' OR acknowledged_at IS NOT NULL)
);

COMMENT ON TABLE alerts IS
    'Notifications for a user on one channel, with their delivery status.';
COMMENT ON COLUMN alerts.user_id IS
    'Recipient; alerts are deleted together with the user.';
COMMENT ON COLUMN alerts.signal_id IS
    'Signal that caused the alert; NULL if the alert was not caused by a signal or the signal has since been deleted (ON DELETE SET NULL).';
COMMENT ON COLUMN alerts.type IS
    'Alert type identifier (free text, non-empty), e.g. a signal type or ''health_factor''.';
COMMENT ON COLUMN alerts.channel IS
    'Delivery channel: ''telegram'', ''email'' or ''in_app''.';
COMMENT ON COLUMN alerts.message IS
    'Human-readable text as delivered to the user.';
COMMENT ON COLUMN alerts.metadata IS
    'JSON object with channel- or type-specific details (e.g. provider message id, error of a failed delivery).';
COMMENT ON COLUMN alerts.sent_at IS
    'When delivery succeeded; NULL while pending or if delivery failed. Required when status = ''sent''.';
COMMENT ON COLUMN alerts.acknowledged_at IS
    'When the user acknowledged the alert; NULL if not acknowledged. Required when status = ''acknowledged''.';
COMMENT ON COLUMN alerts.status IS
    '''pending'' = queued, not yet delivered; ''sent'' = delivered (sent_at set); ''failed'' = delivery failed; ''acknowledged'' = seen by the user (acknowledged_at set).';
COMMENT ON CONSTRAINT alerts_sent_has_sent_at ON alerts IS
    'An alert in status ''sent'' must record when it was sent.';
COMMENT ON CONSTRAINT alerts_acknowledged_has_acknowledged_at ON alerts IS
    'An alert in status ''acknowledged'' must record when it was acknowledged.';

CREATE INDEX alerts_user_id_status_created_at_idx ON alerts (user_id, status, created_at DESC);

CREATE INDEX alerts_status_created_at_idx ON alerts (status, created_at DESC);

CREATE INDEX alerts_signal_id_idx ON alerts (signal_id);
