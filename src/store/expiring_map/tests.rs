//! Unit tests of `store::expiring_map`, compiled only under #[cfg(test)] (the parent declares `mod tests;`).
use super::*;

const MIN: i64 = MINUTE_NANOS;

fn value(map: &ExpiringMap<&'static str>, key: Key, now: i64) -> Option<&'static str> {
    map.shard(&key).get(&key, now).map(|(v, _)| *v)
}

#[test]
fn an_entry_is_refused_from_its_expiry_on_and_dropped_once_its_minute_is_due() {
    let map = ExpiringMap::new();
    map.shard(&[1, 0]).insert([1, 0], "a", 10 * MIN + 5);
    assert_eq!(value(&map, [1, 0], 10 * MIN + 4), Some("a"));
    assert_eq!(value(&map, [1, 0], 10 * MIN + 5), None, "expired: refused");
    assert!(
        map.sweep(10 * MIN + 5, 16).is_empty(),
        "its minute is not over"
    );
    assert_eq!(map.len(), 1);
    assert_eq!(map.sweep(11 * MIN, 16), vec!["a"]);
    assert!(map.is_empty());
    assert_eq!(map.filed(), 0);
}

#[test]
fn a_sweep_examines_a_bounded_number_of_keys_from_every_shard() {
    let map = ExpiringMap::new();
    for i in 0..100 {
        map.shard(&[i, 0]).insert([i, 0], i, MIN);
    }
    assert_eq!(map.sweep(2 * MIN, 16).len(), 16);
    assert_eq!(map.len(), 84);
    let mut rounds = 1;
    while !map.sweep(2 * MIN, 16).is_empty() {
        rounds += 1;
    }
    assert_eq!(rounds, 7);
    assert!(map.is_empty());
}

#[test]
fn an_entry_whose_expiry_moved_later_is_kept_and_refiled_once() {
    let map = ExpiringMap::new();
    map.shard(&[1, 0]).insert([1, 0], "a", MIN);
    // Rewritten every second with a later expiry, as a session store sees it.
    for i in 1..100 {
        map.shard(&[1, 0])
            .insert([1, 0], "a", MIN + i * 1_000_000_000);
    }
    assert_eq!(map.filed(), 1, "a later expiry files nothing new");
    assert!(map.sweep(2 * MIN, 16).is_empty());
    assert_eq!(value(&map, [1, 0], 2 * MIN), Some("a"));
    assert_eq!(map.filed(), 1, "refiled under its new minute");
    assert_eq!(map.sweep(4 * MIN, 16), vec!["a"]);
}

#[test]
fn an_earlier_expiry_is_honoured() {
    let map = ExpiringMap::new();
    map.shard(&[1, 0]).insert([1, 0], "a", 100 * MIN);
    map.shard(&[1, 0]).set_expiry(&[1, 0], MIN);
    assert_eq!(map.sweep(2 * MIN, 16), vec!["a"]);
    assert_eq!(map.sweep(200 * MIN, 16), Vec::<&str>::new());
    assert_eq!(map.filed(), 0, "the stale filing went with the sweep");
}

#[test]
fn removed_entries_leave_nothing_behind_after_their_minute() {
    let map = ExpiringMap::new();
    map.shard(&[1, 0]).insert([1, 0], "first", MIN);
    assert_eq!(map.shard(&[1, 0]).remove(&[1, 0]), Some("first"));
    // A key can come back (a digest of the same subject) with a new expiry.
    map.shard(&[1, 0]).insert([1, 0], "second", 5 * MIN);
    assert!(
        map.sweep(2 * MIN, 16).is_empty(),
        "the new entry is not due"
    );
    assert_eq!(value(&map, [1, 0], 2 * MIN), Some("second"));
    assert_eq!(map.sweep(6 * MIN, 16), vec!["second"]);
    assert_eq!(map.filed(), 0);
}

#[test]
fn a_cleared_map_forgets_everything_and_its_filings_run_out() {
    let map = ExpiringMap::new();
    for i in 0..10 {
        map.shard(&[i, 0]).insert([i, 0], "x", MIN);
    }
    map.clear();
    assert!(map.is_empty());
    assert!(map.sweep(2 * MIN, 16).is_empty());
    assert_eq!(map.filed(), 0);
}

#[test]
fn saturates_instants_beyond_the_nanosecond_range() {
    let far = OffsetDateTime::new_utc(
        time::Date::from_calendar_date(9999, time::Month::December, 31).unwrap(),
        time::Time::MIDNIGHT,
    );
    assert_eq!(unix_nanos(far), i64::MAX);
    let map = ExpiringMap::new();
    map.shard(&[1, 0]).insert([1, 0], "forever", i64::MAX);
    assert!(map.sweep(i64::MAX - 1, 16).is_empty());
    assert_eq!(value(&map, [1, 0], i64::MAX - 1), Some("forever"));
}

#[test]
fn keys_spread_over_every_shard() {
    let map = ExpiringMap::new();
    for i in 0..(SHARDS as u64 * 4) {
        map.shard(&[i, 0]).insert([i, 0], (), i64::MAX);
    }
    let mut sizes = Vec::new();
    map.for_each_shard(|s| sizes.push(s.len()));
    assert!(sizes.iter().all(|n| *n == 4), "{sizes:?}");
    assert_eq!(map.len(), SHARDS * 4);
}
