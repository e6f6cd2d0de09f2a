//! Engine settings that change the generated code. They are part of an artifact's identity.

/// Settings the compiler and the runtime must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tunables {
    /// Bytes of address space reserved for each 32-bit linear memory. A memory never moves
    /// while it fits in its reservation.
    pub memory_reservation: u64,
    /// Bytes of inaccessible guard after the reservation. An access whose static offset fits
    /// in reservation + guard beyond the 4 GiB index range needs no bounds check.
    pub memory_guard_size: u64,
    /// Whether hardware faults (SIGSEGV, SIGILL, SIGFPE) may be used to detect traps. When
    /// false every trap condition is an explicit check that calls the `trap` builtin.
    pub signals_based_traps: bool,
    /// Cranelift optimisation level: "none", "speed" or "speed_and_size".
    pub opt_level: OptLevel,
    /// Whether compiled code meters fuel (`Config::consume_fuel`).
    pub consume_fuel: bool,
    /// Whether compiled code checks the epoch deadline (`Config::epoch_interruption`).
    pub epoch_interruption: bool,
    /// Whether relaxed-SIMD instructions compute the spec's deterministic profile (the same
    /// result on every host) instead of the fastest result the host allows.
    pub relaxed_simd_deterministic: bool,
    /// Target CPU feature settings applied over the host's detected features, in order, as
    /// Cranelift target-setting names and values (`("has_sse41", "false")`; an empty value
    /// enables a flag or preset). The compiler accepts only target (ISA) settings and refuses
    /// to enable a feature the host CPU lacks.
    pub cpu_features: Vec<(String, String)>,
}

/// Optimisation level of generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No optimisation (`-O opt-level=0`).
    None,
    /// Optimise for speed (`-O opt-level=1` and `2`, the default).
    Speed,
    /// Optimise for speed and size (`-O opt-level=s`).
    SpeedAndSize,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            memory_reservation: 1 << 32,
            memory_guard_size: 32 << 20,
            signals_based_traps: true,
            opt_level: OptLevel::Speed,
            consume_fuel: false,
            epoch_interruption: false,
            relaxed_simd_deterministic: false,
            cpu_features: Vec::new(),
        }
    }
}

impl Tunables {
    /// Every setting as a `(name, value)` pair, for artifact fingerprints: a precompiled
    /// artifact records these and a loader compares them one by one, so a mismatch names the
    /// setting that differs. The exhaustive destructuring makes a new field a compile error
    /// here until it is part of the fingerprint.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        let Tunables {
            memory_reservation,
            memory_guard_size,
            signals_based_traps,
            opt_level,
            consume_fuel,
            epoch_interruption,
            relaxed_simd_deterministic,
            cpu_features,
        } = self;
        let mut out = vec![
            (
                "memory-reservation".to_string(),
                memory_reservation.to_string(),
            ),
            (
                "memory-guard-size".to_string(),
                memory_guard_size.to_string(),
            ),
            (
                "signals-based-traps".to_string(),
                signals_based_traps.to_string(),
            ),
            ("opt-level".to_string(), format!("{opt_level:?}")),
            ("consume-fuel".to_string(), consume_fuel.to_string()),
            (
                "epoch-interruption".to_string(),
                epoch_interruption.to_string(),
            ),
            (
                "relaxed-simd-deterministic".to_string(),
                relaxed_simd_deterministic.to_string(),
            ),
        ];
        let features: Vec<String> = cpu_features
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        out.push(("cpu-feature-settings".to_string(), features.join(",")));
        out
    }

    /// Whether a 32-bit memory access at `index + offset` of `size` bytes can rely on the guard
    /// region alone: the largest possible effective address, `u32::MAX + offset + size`, lies
    /// inside reservation + guard, and faults there become traps.
    pub fn can_elide_bounds_check(&self, memory64: bool, offset: u64, size: u64) -> bool {
        if memory64 || !self.signals_based_traps || self.memory_reservation < (1 << 32) {
            return false;
        }
        let end = u64::from(u32::MAX)
            .saturating_add(offset)
            .saturating_add(size);
        end <= self
            .memory_reservation
            .saturating_add(self.memory_guard_size)
    }

    /// Whether a memory of this type can ever change its base address. Memories that fit in
    /// their reservation never move, so compiled code may load their base once.
    pub fn memory_may_move(&self, ty: &crate::MemoryType) -> bool {
        let max_bytes = ty
            .maximum
            .unwrap_or(if ty.memory64 { u64::MAX } else { 1 << 16 })
            .saturating_mul(crate::WASM_PAGE_SIZE);
        max_bytes > self.memory_reservation
    }
}
