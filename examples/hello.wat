;; Hello, world as a WASI command: `_start` writes one line to stdout with `fd_write`.
;;
;;     kiln run examples/hello.wat
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The iovec at 0 points at the text at 16; fd_write stores the byte count at 8.
  (data (i32.const 0) "\10\00\00\00\0e\00\00\00")
  (data (i32.const 16) "Hello, world!\n")
  (func (export "_start")
    (drop (call $fd_write
      (i32.const 1)    ;; stdout
      (i32.const 0)    ;; iovs
      (i32.const 1)    ;; iovs_len
      (i32.const 8)))) ;; nwritten
)
