//! Property tests for signing and the replay window.

use lin6::auth::{Key, ReplayError, ReplayWindow, serial_newer, sign, verify};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = Key> {
    (any::<u32>(), proptest::collection::vec(any::<u8>(), 16..80))
        .prop_map(|(id, secret)| Key::new(id, secret).unwrap())
}

proptest! {
    #[test]
    fn own_signature_verifies_however_the_message_is_split(
        k in key(),
        msg in proptest::collection::vec(any::<u8>(), 0..200),
        cut in any::<prop::sample::Index>(),
    ) {
        let at = cut.index(msg.len() + 1);
        let (a, b) = msg.split_at(at);
        let tag = sign(&k, &[&msg]);
        prop_assert!(verify(&k, &[a, b], &tag));
    }

    #[test]
    fn any_flipped_tag_bit_is_refused(
        k in key(),
        msg in proptest::collection::vec(any::<u8>(), 0..64),
        bit in 0usize..256,
    ) {
        let mut tag = sign(&k, &[&msg]);
        tag[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!verify(&k, &[&msg], &tag));
    }

    #[test]
    fn any_flipped_message_bit_is_refused(
        k in key(),
        msg in proptest::collection::vec(any::<u8>(), 1..64),
        bit in any::<prop::sample::Index>(),
    ) {
        let tag = sign(&k, &[&msg]);
        let mut m = msg.clone();
        let b = bit.index(m.len() * 8);
        m[b / 8] ^= 1 << (b % 8);
        prop_assert!(!verify(&k, &[&m], &tag));
    }

    #[test]
    fn key_debug_never_shows_secret_bytes(secret in proptest::collection::vec(any::<u8>(), 16..40)) {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let k = Key::new(1, secret.clone()).unwrap();
        let dbg = format!("{k:?}");
        prop_assert!(!dbg.contains(&hex));
        let as_list = format!("{secret:?}");
        prop_assert!(!dbg.contains(&as_list));
    }

    #[test]
    fn newer_sequence_is_accepted_from_any_start_across_wraparound(
        start in any::<u32>(),
        step in 1u32..0x8000_0000,
        now in any::<u32>(),
    ) {
        let mut w = ReplayWindow::default();
        w.accept(0u32, start, now, now).unwrap();
        prop_assert_eq!(w.accept(0, start.wrapping_add(step), now, now), Ok(()));
    }

    #[test]
    fn same_or_older_sequence_is_refused_across_wraparound(
        start in any::<u32>(),
        back in 0u32..=0x8000_0000,
        now in any::<u32>(),
    ) {
        let mut w = ReplayWindow::default();
        w.accept(0u32, start, now, now).unwrap();
        let seq = start.wrapping_sub(back);
        prop_assert_eq!(
            w.accept(0, seq, now, now),
            Err(ReplayError::ReplayedSequence { sequence: seq, last: start })
        );
    }

    #[test]
    fn timestamp_is_accepted_exactly_within_the_window(
        now in any::<u32>(),
        offset in -100i64..=100,
        window in 0u32..=60,
    ) {
        let ts = (i64::from(now) + offset).rem_euclid(1 << 32) as u32;
        let w: ReplayWindow = ReplayWindow::new(window);
        let ok = w.check(&0, 1, ts, now).is_ok();
        prop_assert_eq!(ok, offset.unsigned_abs() <= u64::from(window));
    }

    #[test]
    fn accepted_sequences_form_a_strictly_increasing_serial_chain(
        events in proptest::collection::vec((any::<u32>(), 0u32..3), 1..60),
    ) {
        // Sequences near each other so that both acceptances and refusals occur.
        let mut w = ReplayWindow::default();
        let mut last: Option<u32> = None;
        for (seq, key) in events.iter().map(|&(s, k)| (s % 16, k)) {
            if key != 0 {
                continue;
            }
            match w.accept(0u32, seq, 1000, 1000) {
                Ok(()) => {
                    if let Some(l) = last {
                        prop_assert!(serial_newer(seq, l));
                    }
                    last = Some(seq);
                }
                Err(ReplayError::ReplayedSequence { last: l, .. }) => {
                    prop_assert_eq!(Some(l), last);
                    prop_assert!(!serial_newer(seq, l));
                }
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }
        prop_assert_eq!(w.last_sequence(&0), last);
    }

    #[test]
    fn serial_newer_is_antisymmetric(a in any::<u32>(), b in any::<u32>()) {
        prop_assert!(!(serial_newer(a, b) && serial_newer(b, a)));
        if a != b && a.wrapping_sub(b) != 0x8000_0000 {
            prop_assert!(serial_newer(a, b) || serial_newer(b, a));
        }
    }
}
