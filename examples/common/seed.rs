//! Seeding shared by the load tools (`loadtest`, `race`): cabinets around Nancy, one doctor
//! each, a published plan and its 15-minute slots, written through the store as a publication
//! would.

use anyhow::Result;
use cpts::domain::Rpps;
use cpts::geo::Coordinates;
use cpts::store::{BoundingBox, CabinetRow, NewSlot, Store};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sqlx::Executor;

/// Place Stanislas, Nancy.
pub const NANCY: (f64, f64) = (48.6936, 6.1832);

/// What to seed.
pub struct Seed<'a> {
    /// The garde plan's id (published).
    pub plan: &'a str,
    pub cabinets: usize,
    /// Cabinets lie within ± these degrees of latitude and longitude of [`NANCY`].
    pub spread: (f64, f64),
    /// The first slot's start, Unix seconds.
    pub first: i64,
    /// Consecutive slots per cabinet…
    pub per_cabinet: usize,
    /// …and at most this many in all.
    pub total: usize,
}

/// Seeds `seed` on the database at `url` (migrated); returns how many slots were created and
/// the ids of the free slots. Runs `ANALYZE`, as autovacuum would have fresh statistics in
/// production (without them the planner misjudges the tables as empty).
pub async fn seed(
    store: &Store,
    url: &str,
    rng: &mut ChaCha8Rng,
    seed: &Seed<'_>,
) -> Result<(u64, Vec<i64>)> {
    let mut slots = Vec::new();
    for c in 0..seed.cabinets {
        let id = format!("CAB-{c:03}");
        store
            .create_cabinet(
                &CabinetRow {
                    id: id.parse()?,
                    name: format!("Cabinet {c}"),
                    coords: Coordinates::new(
                        NANCY.0 + rng.random_range(-seed.spread.0..seed.spread.0),
                        NANCY.1 + rng.random_range(-seed.spread.1..seed.spread.1),
                    )?,
                    insee: "54395".parse()?,
                    need: 1,
                    slot_minutes: 15,
                    phone: None,
                    address: None,
                },
                &"grand_nancy".parse()?,
            )
            .await?;
        let rpps = Rpps::with_check_digit(&format!("10{c:08}"))?;
        for k in 0..seed.per_cabinet {
            if slots.len() == seed.total {
                break;
            }
            let start = seed.first + 900 * i64::try_from(k)?;
            slots.push(NewSlot {
                cabinet_id: id.clone(),
                rpps: rpps.as_str().to_owned(),
                start_at: start,
                end_at: start + 900,
            });
        }
    }
    let pool = sqlx::AnyPool::connect(url).await?;
    pool.execute(
        format!(
            "INSERT INTO garde_plans (id, period_start, period_end, created_at, published_at) \
             VALUES ('{}', '2000-01-01', '2099-12-31', 0, 0)",
            seed.plan
        )
        .as_str(),
    )
    .await?;
    let created = store.insert_slots(seed.plan, &slots).await?;
    pool.execute("ANALYZE").await?;
    pool.close().await;
    let everywhere = BoundingBox {
        lat: (-90.0, 90.0),
        lon: None,
    };
    let ids = store
        .free_slots(0, i64::MAX / 2, everywhere, None, 1_000_000)
        .await?
        .into_iter()
        .map(|f| f.slot.id)
        .collect();
    Ok((created, ids))
}
