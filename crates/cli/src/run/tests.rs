//! Argument parsing and result formatting.

use super::*;

#[test]
fn ints() {
    assert_eq!(parse_arg("5", ValType::I32).unwrap().i32(), Some(5));
    assert_eq!(parse_arg("-5", ValType::I32).unwrap().i32(), Some(-5));
    assert_eq!(
        parse_arg("4294967295", ValType::I32).unwrap().i32(),
        Some(-1)
    );
    assert_eq!(parse_arg("0x10", ValType::I32).unwrap().i32(), Some(16));
    assert_eq!(
        parse_arg("-9223372036854775808", ValType::I64)
            .unwrap()
            .i64(),
        Some(i64::MIN)
    );
    assert!(parse_arg("4294967296", ValType::I32).is_err());
    assert!(parse_arg("--5", ValType::I32).is_err());
    assert!(parse_arg("-", ValType::I32).is_err());
    assert!(parse_arg("1.5", ValType::I32).is_err());
}

#[test]
fn floats() {
    assert_eq!(parse_arg("1.5", ValType::F32).unwrap().f32(), Some(1.5));
    assert!(
        parse_arg("nan", ValType::F64)
            .unwrap()
            .f64()
            .unwrap()
            .is_nan()
    );
    assert_eq!(
        parse_arg("-inf", ValType::F64).unwrap().f64(),
        Some(f64::NEG_INFINITY)
    );
    assert!(parse_arg("x", ValType::F32).is_err());
}

#[test]
fn formatting() {
    assert_eq!(format_val(&Val::I32(-3)), "-3");
    assert_eq!(format_val(&Val::F32(3.0f32.to_bits())), "3");
    assert_eq!(format_val(&Val::F64(0.5f64.to_bits())), "0.5");
    assert_eq!(format_val(&Val::F64(f64::NAN.to_bits())), "NaN");
}

#[test]
fn dir_args() {
    let d = parse_dir("data").unwrap();
    assert_eq!((d.host.as_str(), d.guest.as_str()), ("data", "data"));
    assert_eq!(d.perms, DirPerms::ReadWrite);
    let d = parse_dir("/tmp/x::/").unwrap();
    assert_eq!((d.host.as_str(), d.guest.as_str()), ("/tmp/x", "/"));
    let d = parse_dir("a::b::ro").unwrap();
    assert_eq!(
        (d.host.as_str(), d.guest.as_str(), d.perms),
        ("a", "b", DirPerms::ReadOnly)
    );
    assert_eq!(parse_dir("a::b::rw").unwrap().perms, DirPerms::ReadWrite);
    assert!(parse_dir("a::b::xx").is_err());
    assert!(parse_dir("a::b::ro::c").is_err());
    assert!(parse_dir("::b").is_err());
}

#[test]
fn wasi_options() {
    let o = parse_wasi_options(&["inherit-env,tcplisten=127.0.0.1:0".to_string()]).unwrap();
    assert!(o.inherit_env);
    assert_eq!(o.tcplisten, ["127.0.0.1:0"]);
    assert!(
        !parse_wasi_options(&["inherit-env=n".to_string()])
            .unwrap()
            .inherit_env
    );
    assert!(parse_wasi_options(&["bogus".to_string()]).is_err());
    assert!(parse_wasi_options(&["tcplisten".to_string()]).is_err());
}
