//! Writes the valid seed inputs of every fuzz target into fuzz/corpus/<target>/seed-*:
//! `cargo run --example seed_corpus` (from fuzz/). The committed corpora grew from these seeds
//! and were then minimized, which may merge a seed away.
//!
//! The seed keyrings get fresh random keys on every run: their data keys are printed, and
//! crates/keyring/tests/fuzz_harness/mod.rs must list them in `DATA_KEYS` (otherwise the
//! harness rightly reports a keyring opening to a key it does not know).

use std::fs;
use std::path::Path;

use cardsgalore_cards::users::hash_password;
use cardsgalore_cards::{Card, CardKey, GftFile, GftRecord};
use cardsgalore_keyring::{KdfParams, Keyring, UnlockedKeyring};
use secrecy::SecretString;

const CHEAP: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn main() {
    let key = CardKey::from_bytes([7; 32]);
    let card = Card::issue(&key, "NYU Apparel Card", "alice", 95).expect("valid card");
    let long = Card::issue(&key, "Semester's Book Card €€", "bob@example.org", 10_000)
        .expect("valid card");

    // .gft: our cards, the legacy sample, and a file with every record type.
    write("gft_parse", "card", &card.to_gft_bytes().expect("fits"));
    write(
        "gft_parse",
        "card-long",
        &long.to_gft_bytes().expect("fits"),
    );
    let mut legacy = Vec::new();
    legacy.extend(116u32.to_le_bytes());
    legacy.extend(format!("{:<32}", "GiftCardz.com").as_bytes());
    legacy.extend(format!("{:<32}", "DuaneGreenes Store 1451").as_bytes());
    legacy.extend(1u32.to_le_bytes());
    legacy.extend(44u32.to_le_bytes());
    legacy.extend(1u32.to_le_bytes());
    legacy.extend(2000i32.to_le_bytes());
    legacy.extend(b"[ insert crypto signature here ]");
    write("gft_parse", "legacy-example", &legacy);
    let every = GftFile {
        merchant_id: "NYU Gym Card".into(),
        customer_id: "alice".into(),
        records: vec![
            GftRecord::Message("Happy birthday!".into()),
            GftRecord::AmountChange {
                amount: 450,
                signature: Some(card.signature.0),
            },
            GftRecord::AmountChange {
                amount: -5,
                signature: None,
            },
            GftRecord::Animated {
                message: "Wheee".into(),
                program: (0..=255).collect(),
            },
        ],
    };
    write("gft_parse", "every-record", &every.to_bytes());

    // JSON: our layout, the legacy one (string total), and another member order.
    write("json_card", "card", &card.to_json_bytes());
    write("json_card", "card-long", &long.to_json_bytes());
    let legacy_json = format!(
        "{{\"merchant_id\": \"NYU Apparel Card\", \"customer_id\": \"alice\", \"total_value\": \"95\", \
         \"records\": [{{\"record_type\": \"amount_change\", \"amount_added\": 95, \"signature\": \"{}\"}}]}}",
        card.signature.to_hex()
    );
    write("json_card", "legacy-string-total", legacy_json.as_bytes());
    let reordered = format!(
        "\n{{ \"records\":[{{\"signature\":\"{}\",\"amount_added\":95,\"record_type\":\"amount_change\"}}],\
         \"total_value\":95,\"customer_id\":\"al\\u0069ce\",\"merchant_id\":\"NYU \\\"Apparel\\\" Card\" }}\n",
        card.signature.to_hex()
    );
    write("json_card", "reordered", reordered.as_bytes());

    // CSV: flags byte, products CSV, 0xFF, users CSV (see the store's fuzz harness).
    let products = fs::read("../seed/products.csv").expect("seed/products.csv");
    let users = fs::read("../seed/users.csv").expect("seed/users.csv");
    let csv = |flags: u8, products: &[u8], users: &[u8]| {
        let mut bytes = vec![flags];
        bytes.extend(products);
        bytes.push(0xff);
        bytes.extend(users);
        bytes
    };
    let new_products = b"9,\"New Card\",/images/product_9.jpg,25,\"A new card, \"\"quoted\"\".\"\n";
    let argon_user = format!(
        "10,,carol,{}\n11,\"2021-01-02 03:04:05\",dave,000000000000000000000000000078d2${}\n",
        hash_password("carol's long passphrase").expect("hash"),
        "ab".repeat(32)
    );
    write(
        "csv_import",
        "legacy-seed-error",
        &csv(0b0011, &products, &users),
    );
    write(
        "csv_import",
        "legacy-seed-skip",
        &csv(0b0111, &products, &users),
    );
    write(
        "csv_import",
        "legacy-seed-update",
        &csv(0b1011, &products, &users),
    );
    write(
        "csv_import",
        "new-rows",
        &csv(0b0011, new_products, argon_user.as_bytes()),
    );
    write(
        "csv_import",
        "products-only",
        &csv(0b0001, new_products, b""),
    );
    write(
        "csv_import",
        "users-only",
        &csv(0b1010, b"", argon_user.as_bytes()),
    );

    // Keyrings: one master key, every slot opened by the fuzz passphrase (or a recovery code).
    let passphrase = SecretString::from("fuzz passphrase".to_string());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keyring.json");
    let mut keyring = UnlockedKeyring::create("admin", &passphrase, CHEAP).expect("create");
    keyring.save(&path).expect("save");
    write("keyring_load", "one-slot", &fs::read(&path).expect("read"));
    keyring
        .add_passphrase("backup.operator@site", &passphrase, CHEAP)
        .expect("add");
    keyring.add_recovery_code(CHEAP).expect("recovery");
    keyring.save(&path).expect("save");
    write(
        "keyring_load",
        "three-slots",
        &fs::read(&path).expect("read"),
    );
    let pending = keyring.begin_rotation();
    keyring.save(&path).expect("save");
    write(
        "keyring_load",
        "rotation-pending",
        &fs::read(&path).expect("read"),
    );
    let reread = Keyring::load(&path)
        .expect("load")
        .unlock(&passphrase)
        .expect("unlock");
    let current = reread.data_key().expect("data key");
    println!("DATA_KEYS:");
    println!("    \"{}\",", hex_of(current.expose_bytes()));
    println!("    \"{}\",", hex_of(pending.expose_bytes()));
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
