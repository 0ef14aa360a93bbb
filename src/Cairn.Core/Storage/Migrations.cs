namespace Cairn.Storage;

/// <summary>
/// The schema, as an ordered list of migrations. A database records the last one applied and is
/// upgraded in place on open. Never edit a shipped migration: add a new one.
/// </summary>
internal static class Migrations
{
    public sealed record Migration(int Version, string Description, Func<SqlFlavor, string> Sql);

    public static readonly IReadOnlyList<Migration> All =
    [
        new(1, "experiments, runs, params, tags, metric history", f => $"""
            CREATE TABLE experiments (
                experiment_id {f.IdentityKey} ,
                name TEXT NOT NULL,
                artifact_location TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL DEFAULT 'active',
                creation_time BIGINT,
                last_update_time BIGINT,
                deleted_time BIGINT,
                CONSTRAINT uq_experiments_name UNIQUE (name)
            );
            CREATE TABLE experiment_tags (
                experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (experiment_id, key)
            );
            CREATE TABLE runs (
                run_uuid TEXT NOT NULL PRIMARY KEY,
                experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                user_id TEXT,
                status TEXT NOT NULL,
                start_time BIGINT NOT NULL,
                end_time BIGINT,
                artifact_uri TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL DEFAULT 'active',
                deleted_time BIGINT
            );
            CREATE INDEX ix_runs_experiment_start ON runs (experiment_id, start_time DESC, run_uuid);
            CREATE TABLE params (
                run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_uuid, key)
            ){f.WithoutRowId};
            CREATE TABLE tags (
                run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_uuid, key)
            ){f.WithoutRowId};
            CREATE TABLE metrics (
                run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
                key TEXT NOT NULL,
                step BIGINT NOT NULL,
                timestamp BIGINT NOT NULL,
                value {f.Double} NOT NULL,
                is_nan SMALLINT NOT NULL,
                PRIMARY KEY (run_uuid, key, step, timestamp, value, is_nan)
            ){f.WithoutRowId};
            """),
        new(2, "latest metric per run and key, so search never scans history", f => $"""
            CREATE TABLE latest_metrics (
                run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
                key TEXT NOT NULL,
                value {f.Double} NOT NULL,
                timestamp BIGINT NOT NULL,
                step BIGINT NOT NULL,
                is_nan SMALLINT NOT NULL,
                PRIMARY KEY (run_uuid, key)
            ){f.WithoutRowId};
            INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan)
            SELECT run_uuid, key, value, timestamp, step, is_nan FROM (
                SELECT m.*, ROW_NUMBER() OVER (PARTITION BY run_uuid, key
                    ORDER BY step DESC, timestamp DESC, is_nan ASC, value DESC) AS rn
                FROM metrics m) ranked
            WHERE rn = 1;
            CREATE INDEX ix_latest_metrics_key_value ON latest_metrics (key, value, run_uuid);
            CREATE INDEX ix_params_key_value ON params (key, value, run_uuid);
            CREATE INDEX ix_tags_key_value ON tags (key, value, run_uuid);
            CREATE INDEX ix_runs_deleted ON runs (lifecycle_stage, deleted_time);
            """),
        new(3, "datasets and run inputs", f => $"""
            CREATE TABLE datasets (
                dataset_uuid TEXT NOT NULL PRIMARY KEY,
                experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                digest TEXT NOT NULL,
                source_type TEXT NOT NULL,
                source TEXT NOT NULL,
                schema_json TEXT,
                profile TEXT,
                CONSTRAINT uq_datasets UNIQUE (experiment_id, name, digest)
            );
            CREATE TABLE inputs (
                run_uuid TEXT NOT NULL REFERENCES runs (run_uuid) ON DELETE CASCADE,
                dataset_uuid TEXT NOT NULL REFERENCES datasets (dataset_uuid) ON DELETE CASCADE,
                PRIMARY KEY (run_uuid, dataset_uuid)
            ){f.WithoutRowId};
            CREATE INDEX ix_inputs_dataset ON inputs (dataset_uuid, run_uuid);
            CREATE TABLE input_tags (
                run_uuid TEXT NOT NULL,
                dataset_uuid TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_uuid, dataset_uuid, key),
                FOREIGN KEY (run_uuid, dataset_uuid) REFERENCES inputs (run_uuid, dataset_uuid) ON DELETE CASCADE
            ){f.WithoutRowId};
            """),
        new(4, "model registry: registered models, versions, tags, aliases, audit trail", f => $"""
            CREATE TABLE registered_models (
                name TEXT NOT NULL PRIMARY KEY,
                creation_time BIGINT NOT NULL,
                last_updated_time BIGINT NOT NULL,
                description TEXT,
                next_version BIGINT NOT NULL DEFAULT 1
            );
            CREATE INDEX ix_registered_models_updated ON registered_models (last_updated_time, name);
            CREATE INDEX ix_registered_models_created ON registered_models (creation_time, name);
            CREATE TABLE registered_model_tags (
                name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (name, key)
            ){f.WithoutRowId};
            CREATE INDEX ix_registered_model_tags_key_value ON registered_model_tags (key, value, name);
            CREATE TABLE model_versions (
                name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
                version BIGINT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_updated_time BIGINT NOT NULL,
                description TEXT,
                user_id TEXT,
                current_stage TEXT NOT NULL,
                source TEXT NOT NULL,
                storage_location TEXT NOT NULL,
                run_id TEXT,
                run_link TEXT,
                status TEXT NOT NULL,
                status_message TEXT,
                PRIMARY KEY (name, version)
            ){f.WithoutRowId};
            CREATE INDEX ix_model_versions_run ON model_versions (run_id, name, version);
            CREATE INDEX ix_model_versions_stage ON model_versions (name, current_stage, version);
            CREATE INDEX ix_model_versions_source ON model_versions (source);
            CREATE TABLE model_version_tags (
                name TEXT NOT NULL,
                version BIGINT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (name, version, key),
                FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
            ){f.WithoutRowId};
            CREATE INDEX ix_model_version_tags_key_value ON model_version_tags (key, value, name, version);
            CREATE TABLE registered_model_aliases (
                name TEXT NOT NULL,
                alias TEXT NOT NULL,
                version BIGINT NOT NULL,
                PRIMARY KEY (name, alias),
                FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE ON UPDATE CASCADE
            ){f.WithoutRowId};
            CREATE INDEX ix_registered_model_aliases_version ON registered_model_aliases (name, version);
            CREATE TABLE registry_audit (
                audit_id {f.IdentityKey},
                name TEXT NOT NULL,
                action TEXT NOT NULL,
                alias TEXT,
                stage TEXT,
                previous_stage TEXT,
                from_version BIGINT,
                to_version BIGINT,
                user_id TEXT NOT NULL,
                timestamp BIGINT NOT NULL
            );
            CREATE INDEX ix_registry_audit_name_alias ON registry_audit (name, alias, audit_id);
            """),
        new(5, "users and access tokens", f => $"""
            CREATE TABLE users (
                id {f.IdentityKey},
                username TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                is_admin BOOLEAN NOT NULL DEFAULT FALSE,
                creation_time BIGINT NOT NULL,
                CONSTRAINT uq_users_username UNIQUE (username)
            );
            CREATE TABLE access_tokens (
                id TEXT NOT NULL PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL,
                creation_time BIGINT NOT NULL,
                last_used_time BIGINT,
                revoked_time BIGINT,
                CONSTRAINT uq_access_tokens_hash UNIQUE (token_hash)
            );
            CREATE INDEX ix_access_tokens_user ON access_tokens (user_id, id);
            """),
        new(6, "experiment and registered model permissions", f => """
            CREATE TABLE experiment_permissions (
                experiment_id BIGINT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
                user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                permission TEXT NOT NULL,
                PRIMARY KEY (experiment_id, user_id)
            );
            CREATE INDEX ix_experiment_permissions_user ON experiment_permissions (user_id, experiment_id);
            CREATE TABLE registered_model_permissions (
                name TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE ON UPDATE CASCADE,
                user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                permission TEXT NOT NULL,
                PRIMARY KEY (name, user_id)
            );
            CREATE INDEX ix_registered_model_permissions_user ON registered_model_permissions (user_id, name);
            """),
        new(7, "prediction log: columnar blocks of scored rows, their requests, and ground truth", f => $"""
            CREATE TABLE prediction_blocks (
                block_id {f.IdentityKey},
                deployment TEXT NOT NULL,
                model_name TEXT,
                model_version TEXT,
                shadow SMALLINT NOT NULL,
                start_ms BIGINT NOT NULL,
                end_ms BIGINT NOT NULL,
                row_count INTEGER NOT NULL,
                request_count INTEGER NOT NULL,
                requests {(f == SqlFlavor.Sqlite ? "BLOB" : "BYTEA")} NOT NULL,
                inputs {(f == SqlFlavor.Sqlite ? "BLOB" : "BYTEA")} NOT NULL,
                outputs {(f == SqlFlavor.Sqlite ? "BLOB" : "BYTEA")} NOT NULL
            );
            CREATE INDEX ix_prediction_blocks_window ON prediction_blocks (deployment, start_ms, block_id);
            CREATE INDEX ix_prediction_blocks_end ON prediction_blocks (end_ms);
            CREATE TABLE prediction_requests (
                deployment TEXT NOT NULL,
                request_id TEXT NOT NULL,
                shadow SMALLINT NOT NULL,
                block_id BIGINT NOT NULL REFERENCES prediction_blocks (block_id) ON DELETE CASCADE,
                row_start INTEGER NOT NULL,
                row_count INTEGER NOT NULL,
                time_ms BIGINT NOT NULL,
                PRIMARY KEY (deployment, request_id, shadow)
            );
            CREATE INDEX ix_prediction_requests_block ON prediction_requests (block_id);
            CREATE TABLE prediction_feedback (
                deployment TEXT NOT NULL,
                request_id TEXT NOT NULL,
                row_index INTEGER NOT NULL,
                time_ms BIGINT NOT NULL,
                value TEXT NOT NULL,
                recorded_ms BIGINT NOT NULL,
                PRIMARY KEY (deployment, request_id, row_index)
            );
            CREATE INDEX ix_prediction_feedback_window ON prediction_feedback (deployment, time_ms);
            """),
        new(8, "deployments, their revisions and permissions", f => """
            CREATE TABLE deployments (
                name TEXT NOT NULL PRIMARY KEY,
                description TEXT,
                routes TEXT NOT NULL,
                sticky_source TEXT,
                sticky_name TEXT,
                revision BIGINT NOT NULL,
                creation_time BIGINT NOT NULL,
                created_by TEXT,
                last_updated_time BIGINT NOT NULL,
                updated_by TEXT
            );
            CREATE TABLE deployment_revisions (
                name TEXT NOT NULL REFERENCES deployments (name) ON DELETE CASCADE,
                revision BIGINT NOT NULL,
                action TEXT NOT NULL,
                routes TEXT NOT NULL,
                sticky_source TEXT,
                sticky_name TEXT,
                restored_revision BIGINT,
                user_id TEXT NOT NULL,
                timestamp BIGINT NOT NULL,
                PRIMARY KEY (name, revision)
            );
            CREATE TABLE deployment_permissions (
                name TEXT NOT NULL REFERENCES deployments (name) ON DELETE CASCADE,
                user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                permission TEXT NOT NULL,
                PRIMARY KEY (name, user_id)
            );
            CREATE INDEX ix_deployment_permissions_user ON deployment_permissions (user_id, name);
            """),
        new(9, "monitoring windows: what each window of a deployment found", f => $"""
            CREATE TABLE monitor_windows (
                window_id {f.IdentityKey},
                deployment TEXT NOT NULL,
                model_name TEXT,
                model_version TEXT,
                shadow SMALLINT NOT NULL,
                start_ms BIGINT NOT NULL,
                end_ms BIGINT NOT NULL,
                row_count BIGINT NOT NULL,
                labeled_rows BIGINT NOT NULL,
                drift_share {f.Double},
                dataset_drift SMALLINT,
                evaluated_ms BIGINT NOT NULL,
                result TEXT NOT NULL
            );
            CREATE INDEX ix_monitor_windows_deployment ON monitor_windows (deployment, start_ms, window_id);
            """),
        new(10, "alert rules' state per rule, deployment and model version, and their incidents", f => $"""
            CREATE TABLE alert_states (
                rule TEXT NOT NULL,
                deployment TEXT NOT NULL,
                model_name TEXT NOT NULL,
                model_version TEXT NOT NULL,
                true_streak INTEGER NOT NULL,
                false_streak INTEGER NOT NULL,
                incident_id BIGINT,
                last_window_end_ms BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL,
                PRIMARY KEY (rule, deployment, model_name, model_version)
            );
            CREATE TABLE alert_incidents (
                incident_id {f.IdentityKey},
                rule TEXT NOT NULL,
                deployment TEXT NOT NULL,
                model_name TEXT,
                model_version TEXT,
                condition_text TEXT NOT NULL,
                status TEXT NOT NULL,
                opened_ms BIGINT NOT NULL,
                resolved_ms BIGINT,
                window_start_ms BIGINT NOT NULL,
                window_end_ms BIGINT NOT NULL,
                last_window_end_ms BIGINT NOT NULL,
                window_count INTEGER NOT NULL,
                opening_values TEXT NOT NULL,
                webhook_status TEXT,
                retrain_status TEXT,
                retrain_run_id TEXT,
                retrain_message TEXT
            );
            CREATE INDEX ix_alert_incidents_status ON alert_incidents (status, incident_id);
            CREATE INDEX ix_alert_incidents_deployment ON alert_incidents (deployment, incident_id);
            """),
        new(11, "a deployment's own prediction log sample rate", f => $"""
            ALTER TABLE deployments ADD COLUMN log_sample_rate {f.Double};
            """),
    ];

    public static int Latest => All[^1].Version;
}

/// <summary>The few places where SQLite and PostgreSQL DDL differ.</summary>
internal sealed record SqlFlavor(string IdentityKey, string Double, string WithoutRowId)
{
    public static readonly SqlFlavor Sqlite = new("INTEGER PRIMARY KEY AUTOINCREMENT", "REAL", " WITHOUT ROWID");
    public static readonly SqlFlavor Postgres = new("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "DOUBLE PRECISION", "");
}
