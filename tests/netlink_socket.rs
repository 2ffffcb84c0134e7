//! The socket half of the client against the running kernel, without
//! lin6.ko: family resolution through nlctrl, and the module-not-loaded
//! error. (With the module, the QEMU scenarios exercise the rest.)

use lin6::netlink::{Client, Error, EventStream, resolve_family};

fn netlink_available() -> bool {
    // Some sandboxes forbid AF_NETLINK; nothing to test there.
    match resolve_family("nlctrl") {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipping: no generic netlink here: {e}");
            false
        }
    }
}

#[test]
fn nlctrl_resolves_with_its_fixed_id_and_groups() {
    if !netlink_available() {
        return;
    }
    let f = resolve_family("nlctrl")
        .unwrap()
        .expect("nlctrl is always registered");
    assert_eq!(f.id, 0x10);
    assert!(f.version >= 1);
    assert!(f.groups.iter().any(|(n, _)| n == "notify"), "{f:?}");
}

#[test]
fn unknown_family_is_none() {
    if !netlink_available() {
        return;
    }
    assert_eq!(resolve_family("lin6-nosuch").unwrap(), None);
}

#[test]
fn without_the_module_connect_says_module_not_loaded() {
    if !netlink_available() || resolve_family("lin6").unwrap().is_some() {
        return;
    }
    let e = Client::connect().err().expect("lin6 is not registered");
    assert!(matches!(e, Error::ModuleNotLoaded), "{e:?}");
    assert_eq!(
        e.to_string(),
        "lin6: kernel module not loaded (insmod lin6.ko)"
    );
    assert!(matches!(
        EventStream::subscribe().err(),
        Some(Error::ModuleNotLoaded)
    ));
}
