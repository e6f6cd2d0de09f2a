//! The `#[repr(C)]` records compiled code reads and writes, generated from
//! `kiln_environ::for_each_vm_record!` so their layout is the one `VMOffsets` describes.
//!
//! Layout tests at the bottom assert that every field's `offset_of!` equals the offset the
//! compiler uses.

use core::ffi::c_void;

/// The array-call ABI: `fn(callee_vmctx, caller_vmctx, values, len) -> bool`.
pub type ArrayCallFn = unsafe extern "C" fn(*mut c_void, *mut c_void, *mut ValRaw, usize) -> bool;

macro_rules! define_records {
    ($($(#[$doc:meta])* $name:ident { $($field:ident : $kind:ident,)* })*) => {
        $(
            $(#[$doc])*
            #[repr(C)]
            #[derive(Debug)]
            pub struct $name {
                $(#[doc = concat!("See `kiln_environ::vmoffsets`: `", stringify!($field), "`.")]
                pub $field: define_records!(@ty $kind),)*
            }
        )*

        #[cfg(test)]
        mod layout_tests {
            use kiln_environ::vmoffsets::record;
            $(
                #[test]
                #[allow(non_snake_case, reason = "named after the record")]
                fn $name() {
                    $(assert_eq!(
                        core::mem::offset_of!(super::$name, $field) as u32,
                        record::$name::$field,
                        concat!(stringify!($name), "::", stringify!($field))
                    );)*
                    assert_eq!(core::mem::size_of::<super::$name>() as u32, record::$name::SIZE);
                }
            )*
        }
    };
    (@ty ptr) => { *mut c_void };
    (@ty usize) => { usize };
    (@ty u32) => { u32 };
    (@ty u64) => { u64 };
    (@ty i64) => { i64 };
}

kiln_environ::for_each_vm_record!(define_records);

/// A global's storage: 16 bytes, enough for any value type.
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy, Default)]
pub struct VMGlobalDefinition {
    /// The value's bytes, little-endian, at offset 0.
    pub storage: [u8; 16],
}

/// One value in the array-call ABI: 16 bytes, value at offset 0 in native little-endian form.
#[repr(C, align(16))]
#[derive(Clone, Copy, Default)]
pub struct ValRaw {
    bytes: [u8; 16],
}

impl core::fmt::Debug for ValRaw {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ValRaw({:#x})", u128::from_le_bytes(self.bytes))
    }
}

impl ValRaw {
    /// From an `i32`.
    #[inline]
    pub fn i32(v: i32) -> Self {
        Self::u128(v as u32 as u128)
    }
    /// From an `i64`.
    #[inline]
    pub fn i64(v: i64) -> Self {
        Self::u128(v as u64 as u128)
    }
    /// From `f32` bits.
    #[inline]
    pub fn f32(bits: u32) -> Self {
        Self::u128(bits as u128)
    }
    /// From `f64` bits.
    #[inline]
    pub fn f64(bits: u64) -> Self {
        Self::u128(bits as u128)
    }
    /// From a pointer-sized reference value (0 is null).
    #[inline]
    pub fn reference(v: usize) -> Self {
        Self::u128(v as u128)
    }
    /// From a `v128`.
    #[inline]
    pub fn u128(v: u128) -> Self {
        ValRaw {
            bytes: v.to_le_bytes(),
        }
    }
    /// As `i32`.
    #[inline]
    pub fn get_i32(&self) -> i32 {
        i32::from_le_bytes(self.bytes[..4].try_into().unwrap())
    }
    /// As `i64`.
    #[inline]
    pub fn get_i64(&self) -> i64 {
        i64::from_le_bytes(self.bytes[..8].try_into().unwrap())
    }
    /// As `f32` bits.
    #[inline]
    pub fn get_f32(&self) -> u32 {
        self.get_i32() as u32
    }
    /// As `f64` bits.
    #[inline]
    pub fn get_f64(&self) -> u64 {
        self.get_i64() as u64
    }
    /// As a pointer-sized reference.
    #[inline]
    pub fn get_reference(&self) -> usize {
        self.get_i64() as u64 as usize
    }
    /// As `v128`.
    #[inline]
    pub fn get_u128(&self) -> u128 {
        u128::from_le_bytes(self.bytes)
    }
}

impl VMGlobalDefinition {
    /// Reads the value as raw bits (low bytes used for narrower types).
    pub fn get_raw(&self) -> ValRaw {
        ValRaw {
            bytes: self.storage,
        }
    }
    /// Writes raw bits.
    pub fn set_raw(&mut self, v: ValRaw) {
        self.storage = v.bytes;
    }
}

// SAFETY: these records only hold plain integers and raw pointers into allocations owned by
// the store that owns the record; moving them across threads with their store is sound.
unsafe impl Send for VMFuncRef {}
// SAFETY: as above; shared references only read plain data.
unsafe impl Sync for VMFuncRef {}

#[cfg(test)]
mod tests {
    #[test]
    fn global_and_valraw_layout() {
        assert_eq!(core::mem::size_of::<super::VMGlobalDefinition>(), 16);
        assert_eq!(
            core::mem::size_of::<super::ValRaw>() as u32,
            kiln_environ::vmoffsets::VAL_RAW_SIZE
        );
    }
}

/// A pointer to a live `VMFuncRef`: an instance's import record or escape slot, or a host
/// function's record. Invariant: the record is owned by the store that holds this value (or
/// by module code it keeps alive) and outlives it. Only `vm` code creates one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FuncRef(core::ptr::NonNull<VMFuncRef>);

// SAFETY: a `FuncRef` is an address into store-owned data; it moves with its store.
unsafe impl Send for FuncRef {}
// SAFETY: shared access only reads the immutable record.
unsafe impl Sync for FuncRef {}

impl FuncRef {
    /// Wraps a record pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must satisfy the type's invariant.
    pub unsafe fn new(ptr: *const VMFuncRef) -> Option<FuncRef> {
        core::ptr::NonNull::new(ptr.cast_mut()).map(FuncRef)
    }

    /// The funcref carried by a raw value, or `None` for null.
    ///
    /// Invariant relied on: a `ValRaw` of funcref type is only ever produced by compiled code
    /// (from `ref.func`, tables or globals, all holding valid records) or by
    /// [`FuncRef::as_raw`]; `ValRaw` is crate-private, so no embedder can forge one.
    pub fn from_raw(raw: usize) -> Option<FuncRef> {
        // SAFETY: per the invariant above.
        unsafe { FuncRef::new(raw as *const VMFuncRef) }
    }

    /// The raw pointer value (what wasm sees).
    pub fn as_raw(self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The record.
    pub fn get(&self) -> &VMFuncRef {
        // SAFETY: the type's invariant: the record is live while its store is.
        unsafe { self.0.as_ref() }
    }
}

/// A pointer to a live global definition: inline in an instance's vmctx, or boxed by the
/// store for host-created globals. Invariant: owned by the store holding this value.
#[derive(Debug, Clone, Copy)]
pub struct VMGlobalRef(core::ptr::NonNull<VMGlobalDefinition>);

// SAFETY: an address into store-owned data; it moves with its store.
unsafe impl Send for VMGlobalRef {}

impl VMGlobalRef {
    /// Wraps a definition the store owns through a box.
    pub fn from_box(def: &mut Box<VMGlobalDefinition>) -> VMGlobalRef {
        VMGlobalRef(core::ptr::NonNull::from(&mut **def))
    }

    /// Wraps a definition pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must satisfy the type's invariant.
    pub unsafe fn new(ptr: *mut VMGlobalDefinition) -> Option<VMGlobalRef> {
        core::ptr::NonNull::new(ptr).map(VMGlobalRef)
    }

    /// The raw pointer, for a vmctx import slot.
    pub fn as_ptr(self) -> *mut VMGlobalDefinition {
        self.0.as_ptr()
    }

    /// Reads the value.
    pub fn get_raw(&self) -> ValRaw {
        // SAFETY: the type's invariant; wasm is not running concurrently on this store (the
        // caller holds the store).
        unsafe { (*self.0.as_ptr()).get_raw() }
    }

    /// Writes the value.
    pub fn set_raw(&self, v: ValRaw) {
        // SAFETY: as in `get_raw`.
        unsafe { (*self.0.as_ptr()).set_raw(v) }
    }
}
