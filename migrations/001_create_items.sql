-- The reference app's items. Every statement can run again after a partial failure (the runner
-- applies a file statement by statement, so a file that failed half way is re-run whole).
CREATE TABLE IF NOT EXISTS items (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
