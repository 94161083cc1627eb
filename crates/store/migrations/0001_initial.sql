-- Cards Galore schema. Table and column names of users, products and cards keep the legacy
-- names so that operators' scripts keep working.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    username    TEXT NOT NULL UNIQUE,
    password    TEXT NOT NULL,           -- Argon2id PHC string, or a legacy salt$sha256 record
    last_login  TEXT
);

CREATE TABLE products (
    product_id          INTEGER PRIMARY KEY,
    product_name        TEXT NOT NULL UNIQUE,
    product_image_path  TEXT NOT NULL UNIQUE,
    recommended_price   INTEGER NOT NULL,
    description         TEXT NOT NULL
);

CREATE TABLE cards (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    data        BLOB NOT NULL UNIQUE,    -- the card file as issued (JSON)
    product_id  INTEGER NOT NULL REFERENCES products(product_id),
    amount      INTEGER NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,  -- the owner
    used        INTEGER NOT NULL DEFAULT 0,
    signature   TEXT NOT NULL UNIQUE,    -- lookup key of an uploaded card
    legacy      INTEGER NOT NULL DEFAULT 0,  -- adopted from the legacy site: matched by exact bytes
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX cards_user_id ON cards(user_id);
CREATE INDEX cards_product_id ON cards(product_id);

CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY,        -- SHA-256 of the cookie token; the token is never stored
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,        -- unix seconds
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expires_at ON sessions(expires_at);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  BLOB NOT NULL
) WITHOUT ROWID;
