//! The records of the lists, one field table each: [`record!`] turns a table into the record's
//! decoder (key match, duplicate check, value reader, default or required) and its list of field
//! names, which the tests iterate. Adding a field to a model means adding its row here; a model
//! field without a row does not compile (the record is built from the rows).

use super::super::model::{AwsInfo, Drive, Host, HostId, Node};
use super::scan::{Cursor, R};

/// Declares `mod $name` with the decoder of record type `$ty` from its field table. A row is
/// `field => reader`: the model field (also the JSON key), and how its value is read, a
/// `fn(&mut Cursor) -> R<T>` (a method of [`Cursor`] or a closure). A field missing from the JSON
/// takes `Default::default()`, or the value after `=` (`field = value => reader`), or is refused
/// when the row starts with `#[required]` — the record's serde attributes, restated. The module
/// has:
/// - `FIELDS`, the names in table order (for keys written with escapes, and for the tests);
/// - `decode`, which reads one record: an object whose known keys are each read once (serde
///   refuses a duplicate) and whose other members are skipped; a record written as an array (the
///   sequence form of a struct) is handed to serde. Members are first checked against the
///   layout the cursor learned for this record type (`$slot`, distinct from the slot of any
///   record read inside this one): a matching head names its field at once, a matching whole
///   member of no field is skipped (see `scan::Shape`).
///
/// The keys are matched by a `match` on the names' bytes, as a hand-written decoder would.
macro_rules! record {
    (
        $(#[$doc:meta])*
        $name:ident[$slot:literal]: $ty:ident {
            $($(#[$required:ident])? $field:ident $(= $default:expr)? => $read:expr),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        pub(super) mod $name {
            // The record type and what the rows name.
            use super::*;
            use $crate::weka::decode::records::read;
            use $crate::weka::decode::scan::{Cursor, R, SHAPE_SLOTS, SKIPPED_MEMBER, UNKNOWN_FIELD};

            /// The JSON keys, in table order.
            pub(in super::super) const FIELDS: &[&[u8]] = &[$(stringify!($field).as_bytes()),+];

            const _: () = assert!(FIELDS.len() <= 32, "a record's seen bits are a u32");

            /// The cursor's slot for this record type's learned layout (distinct from the slot of
            /// any record read inside this one).
            const SLOT: usize = $slot;

            const _: () = assert!(SLOT < SHAPE_SLOTS, "no such layout slot");

            /// A field's number (its row) and its bit in the set of fields seen.
            #[allow(non_camel_case_types)]
            enum Bit {
                $($field),+
            }

            /// The keys as constants, for the `match`.
            #[allow(non_upper_case_globals)]
            mod key {
                $(pub(super) const $field: &[u8] = stringify!($field).as_bytes();)+
            }

            /// The field numbers as constants, for the `match`.
            #[allow(non_upper_case_globals)]
            mod field {
                $(pub(super) const $field: u8 = super::Bit::$field as u8;)+
            }

            /// The number of the field a key names ([`UNKNOWN_FIELD`] for none).
            #[inline(always)]
            fn field_of(key: &[u8]) -> u8 {
                match key {
                    $(key::$field => field::$field,)+
                    _ => UNKNOWN_FIELD,
                }
            }

            pub(in super::super) fn decode(c: &mut Cursor<'_>) -> R<$ty> {
                if c.peek() == Some(b'[') {
                    return c.by_serde();
                }
                $(let mut $field = record!(@init $($required)? $(= $default)?);)+
                let mut seen = 0u32;
                if c.members()? {
                    // The first record (or the first after one that strayed) teaches the layout
                    // the next ones are checked against.
                    let learning = c.shape_unknown(SLOT);
                    let mut strayed = false;
                    let mut member = 0;
                    loop {
                        // Where the member started, when it was read without the layout.
                        let mut start = None;
                        let number = match c.predicted_key(SLOT, member) {
                            Some(SKIPPED_MEMBER) => {
                                // A whole member of no field, its comma included.
                                member += 1;
                                continue;
                            }
                            Some(number) => number,
                            None => {
                                let at = c.pos;
                                let number = field_of(c.key(FIELDS)?);
                                if learning {
                                    c.learn_head(SLOT, member, at, number);
                                    start = Some(at);
                                } else {
                                    strayed |= c.shape_holds(SLOT, member);
                                }
                                number
                            }
                        };
                        match number {
                            $(field::$field => {
                                let bit = 1 << Bit::$field as u32;
                                if seen & bit != 0 {
                                    let name = stringify!($field);
                                    return c.fail(format!("duplicate field `{name}`"));
                                }
                                seen |= bit;
                                record!(@set $($required)? $field = read(c, $read)?);
                            })+
                            _ => {
                                c.skip_value()?;
                                if let Some(start) = start {
                                    c.learn_whole(SLOT, member, start);
                                }
                            }
                        }
                        member += 1;
                        if !c.more()? {
                            break;
                        }
                    }
                    if strayed {
                        c.forget_shape(SLOT);
                    }
                }
                Ok($ty {
                    $($field: record!(@take c $($required)? $field)),+
                })
            }
        }
    };
    (@init required) => { None };
    (@init = $default:expr) => { $default };
    (@init) => { Default::default() };
    (@set required $field:ident = $value:expr) => { $field = Some($value) };
    (@set $field:ident = $value:expr) => { $field = $value };
    (@take $c:ident required $field:ident) => {
        match $field {
            Some(value) => value,
            None => return $c.fail(concat!("missing field `", stringify!($field), "`")),
        }
    };
    (@take $c:ident $field:ident) => { $field };
}

#[cfg(test)]
pub(super) use record;

/// Reads a value with a row's reader (a call that gives a closure its argument's type).
#[inline(always)]
pub(super) fn read<'a, T>(
    c: &mut Cursor<'a>,
    reader: impl FnOnce(&mut Cursor<'a>) -> R<T>,
) -> R<T> {
    reader(c)
}

record! {
    /// One `hosts_list` value.
    host[0]: Host {
        added_time => Cursor::opt_datetime,
        state_changed_time => Cursor::opt_datetime,
        state => Cursor::enum_or_null,
        status => Cursor::enum_or_null,
        host_ip => Cursor::string_or_null,
        aws => |c| c.nullable(aws::decode),
        container_name => Cursor::string_or_null,
        mode => Cursor::enum_or_null,
        machine_identifier => Cursor::string_or_null,
        auto_remove_timeout => |c| c.nullable(Cursor::i64),
    }
}

record! {
    /// `hosts_list[].aws`.
    aws[1]: AwsInfo {
        instance_id => Cursor::string_or_null,
    }
}

record! {
    /// One `disks_list` value.
    drive[0]: Drive {
        host_id = HostId::INVALID => Cursor::host_id,
        status => Cursor::enum_or_null,
        uuid => Cursor::string_or_null,
        should_be_active => Cursor::bool_or_null,
    }
}

record! {
    /// One `nodes_list` value.
    node[0]: Node {
        host_id = HostId::INVALID => Cursor::host_id,
        status => Cursor::enum_or_null,
        last_fencing_time => Cursor::opt_datetime,
    }
}
