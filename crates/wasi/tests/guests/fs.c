/* Files and directories through raw WASI calls and through libc, in the preopen "sandbox"
 * (fd 3, empty and writable): open/create, read/write with several iovecs, seek/tell,
 * pread/pwrite, append, sizes, stat and times, rename, hard and symbolic links, readlink,
 * unlink/rmdir, readdir over many entries with small buffers and cookies, and the errnos POSIX
 * gives for each misuse. Prints "fs ok" at the end. */
#include "check.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const __wasi_fd_t D = 3;

static void test_prestat(void) {
    __wasi_prestat_t ps;
    OK(__wasi_fd_prestat_get(D, &ps));
    CHECK(ps.tag == __WASI_PREOPENTYPE_DIR);
    CHECK(ps.u.dir.pr_name_len == 7);
    char name[16] = {0};
    OK(__wasi_fd_prestat_dir_name(D, (uint8_t *)name, sizeof name));
    CHECK(strcmp(name, "sandbox") == 0);
    ERRNO(__wasi_fd_prestat_dir_name(D, (uint8_t *)name, 3), __WASI_ERRNO_NAMETOOLONG);
    ERRNO(__wasi_fd_prestat_get(0, &ps), __WASI_ERRNO_BADF);
    ERRNO(__wasi_fd_prestat_get(1000, &ps), __WASI_ERRNO_BADF);

    __wasi_fdstat_t st;
    OK(__wasi_fd_fdstat_get(D, &st));
    CHECK(st.fs_filetype == __WASI_FILETYPE_DIRECTORY);
    CHECK(st.fs_rights_base & __WASI_RIGHTS_PATH_OPEN);
    CHECK(st.fs_rights_base & __WASI_RIGHTS_PATH_CREATE_FILE);
    CHECK((st.fs_rights_base & __WASI_RIGHTS_FD_SEEK) == 0);
    CHECK((st.fs_rights_base & __WASI_RIGHTS_FD_WRITE) == 0);
    CHECK(st.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE);
}

static void test_read_write_seek(void) {
    __wasi_fd_t fd = 0;
    OK(__wasi_path_open(D, 0, "file", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, FILE_RW, 0, 0,
                        &fd));
    CHECK(fd > 3);
    ERRNO(__wasi_path_open(D, 0, "file", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, FILE_RW, 0, 0,
                           &fd),
          __WASI_ERRNO_EXIST);

    /* Two iovecs, one empty in the middle. */
    __wasi_ciovec_t out[3] = {{(const uint8_t *)"hello ", 6}, {(const uint8_t *)"", 0},
                              {(const uint8_t *)"world", 5}};
    __wasi_size_t n = 0;
    OK(__wasi_fd_write(fd, out, 3, &n));
    CHECK(n == 11);
    __wasi_filesize_t pos = 0;
    OK(__wasi_fd_tell(fd, &pos));
    CHECK(pos == 11);

    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    CHECK(pos == 0);
    char a[4] = {0}, b[16] = {0};
    __wasi_iovec_t in[2] = {{(uint8_t *)a, 4}, {(uint8_t *)b, 16}};
    OK(__wasi_fd_read(fd, in, 2, &n));
    CHECK(n >= 4);
    CHECK(memcmp(a, "hell", 4) == 0);
    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    char all[32] = {0};
    CHECK(read_some(fd, all, sizeof all) == 11);
    CHECK(strcmp(all, "hello world") == 0);
    CHECK(read_some(fd, all, sizeof all) == 0); /* end of file */

    OK(__wasi_fd_seek(fd, -5, __WASI_WHENCE_CUR, &pos));
    CHECK(pos == 6);
    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_END, &pos));
    CHECK(pos == 11);
    OK(__wasi_fd_seek(fd, 100, __WASI_WHENCE_END, &pos)); /* past the end is allowed */
    CHECK(pos == 111);
    ERRNO(__wasi_fd_seek(fd, -1000, __WASI_WHENCE_CUR, &pos), __WASI_ERRNO_INVAL);
    ERRNO(__wasi_fd_seek(fd, 0, 3, &pos), __WASI_ERRNO_INVAL);
    OK(__wasi_fd_seek(fd, 3, __WASI_WHENCE_SET, &pos));

    /* pread/pwrite leave the position alone. */
    char w[8] = {0};
    __wasi_iovec_t piov = {(uint8_t *)w, 5};
    OK(__wasi_fd_pread(fd, &piov, 1, 6, &n));
    CHECK(n == 5 && memcmp(w, "world", 5) == 0);
    __wasi_ciovec_t pw = {(const uint8_t *)"HELLO", 5};
    OK(__wasi_fd_pwrite(fd, &pw, 1, 0, &n));
    CHECK(n == 5);
    OK(__wasi_fd_tell(fd, &pos));
    CHECK(pos == 3);
    OK(__wasi_fd_pread(fd, &piov, 1, 0, &n));
    CHECK(memcmp(w, "HELLO", 5) == 0);
    OK(__wasi_fd_pread(fd, &piov, 1, 1000, &n));
    CHECK(n == 0);

    /* Sizes and stat. */
    __wasi_filestat_t fst, pst;
    OK(__wasi_fd_filestat_get(fd, &fst));
    CHECK(fst.size == 11);
    CHECK(fst.filetype == __WASI_FILETYPE_REGULAR_FILE);
    CHECK(fst.nlink == 1);
    OK(__wasi_path_filestat_get(D, 0, "file", &pst));
    CHECK(pst.ino == fst.ino && pst.dev == fst.dev && pst.size == 11);
    OK(__wasi_fd_filestat_set_size(fd, 4));
    OK(__wasi_fd_filestat_get(fd, &fst));
    CHECK(fst.size == 4);
    OK(__wasi_fd_filestat_set_size(fd, 100));
    OK(__wasi_fd_pread(fd, &piov, 1, 50, &n));
    CHECK(n == 5 && w[0] == 0 && w[4] == 0);

    /* Times: exact values, "now", and both at once is inval. */
    __wasi_timestamp_t t = 1000000000123ull;
    OK(__wasi_fd_filestat_set_times(fd, t, t + 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    OK(__wasi_fd_filestat_get(fd, &fst));
    CHECK(fst.atim == t && fst.mtim == t + 1);
    OK(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    OK(__wasi_fd_filestat_get(fd, &fst));
    CHECK(fst.atim == t && fst.mtim > t + 1);
    ERRNO(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW),
          __WASI_ERRNO_INVAL);
    ERRNO(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW),
          __WASI_ERRNO_INVAL);
    OK(__wasi_path_filestat_set_times(D, 0, "file", 5000000000ull, 6000000000ull,
                                      __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM));
    OK(__wasi_path_filestat_get(D, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "file", &pst));
    CHECK(pst.atim == 5000000000ull && pst.mtim == 6000000000ull);
    CHECK(pst.ctim > 0);

    /* Other descriptor calls on a file. */
    OK(__wasi_fd_advise(fd, 0, 10, __WASI_ADVICE_SEQUENTIAL));
    ERRNO(__wasi_fd_advise(fd, 0, 10, 9), __WASI_ERRNO_INVAL);
    OK(__wasi_fd_allocate(fd, 0, 200));
    OK(__wasi_fd_filestat_get(fd, &fst));
    CHECK(fst.size == 200);
    OK(__wasi_fd_sync(fd));
    OK(__wasi_fd_datasync(fd));
    __wasi_fdstat_t fds;
    OK(__wasi_fd_fdstat_get(fd, &fds));
    CHECK(fds.fs_filetype == __WASI_FILETYPE_REGULAR_FILE);
    CHECK(fds.fs_flags == 0);
    CHECK(fds.fs_rights_base == FILE_RW);

    /* Dropping rights sticks; adding them back is notcapable. */
    OK(__wasi_fd_fdstat_set_rights(fd, FILE_RW & ~__WASI_RIGHTS_FD_WRITE, 0));
    ERRNO(__wasi_fd_write(fd, &pw, 1, &n), __WASI_ERRNO_NOTCAPABLE);
    ERRNO(__wasi_fd_fdstat_set_rights(fd, FILE_RW, 0), __WASI_ERRNO_NOTCAPABLE);
    OK(__wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_READ, 0));
    ERRNO(__wasi_fd_seek(fd, 1, __WASI_WHENCE_SET, &pos), __WASI_ERRNO_NOTCAPABLE);
    ERRNO(__wasi_fd_filestat_get(fd, &fst), __WASI_ERRNO_NOTCAPABLE);
    OK(__wasi_fd_close(fd));
    ERRNO(__wasi_fd_close(fd), __WASI_ERRNO_BADF);

    /* Opening read-only gives no write right; write-only no read right. */
    fd = open_file(D, "file", 0, __WASI_RIGHTS_FD_READ);
    ERRNO(__wasi_fd_write(fd, &pw, 1, &n), __WASI_ERRNO_NOTCAPABLE);
    OK(__wasi_fd_close(fd));
    fd = open_file(D, "file", 0, __WASI_RIGHTS_FD_WRITE);
    ERRNO(__wasi_fd_read(fd, &piov, 1, &n), __WASI_ERRNO_NOTCAPABLE);
    OK(__wasi_fd_close(fd));

    /* Truncating on open. */
    fd = open_file(D, "file", __WASI_OFLAGS_TRUNC, FILE_RW);
    OK(__wasi_fd_filestat_get(fd, &fst));
    CHECK(fst.size == 0);
    OK(__wasi_fd_close(fd));
}

static void test_append(void) {
    __wasi_fd_t fd = 0;
    OK(__wasi_path_open(D, 0, "log", __WASI_OFLAGS_CREAT, FILE_RW, 0, __WASI_FDFLAGS_APPEND, &fd));
    __wasi_fdstat_t st;
    OK(__wasi_fd_fdstat_get(fd, &st));
    CHECK(st.fs_flags & __WASI_FDFLAGS_APPEND);
    write_all(fd, "one\n");
    __wasi_filesize_t pos;
    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    write_all(fd, "two\n"); /* still at the end */
    OK(__wasi_fd_tell(fd, &pos));
    CHECK(pos == 8);
    OK(__wasi_fd_fdstat_set_flags(fd, 0));
    OK(__wasi_fd_fdstat_get(fd, &st));
    CHECK((st.fs_flags & __WASI_FDFLAGS_APPEND) == 0);
    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    write_all(fd, "ONE\n");
    OK(__wasi_fd_seek(fd, 0, __WASI_WHENCE_SET, &pos));
    char buf[16] = {0};
    CHECK(read_some(fd, buf, sizeof buf) == 8);
    CHECK(strcmp(buf, "ONE\ntwo\n") == 0);
    ERRNO(__wasi_fd_fdstat_set_flags(fd, 0x100), __WASI_ERRNO_INVAL);
    OK(__wasi_fd_close(fd));
    OK(__wasi_path_unlink_file(D, "log"));
}

static void test_paths(void) {
    __wasi_fd_t fd = 0, sub = 0;
    __wasi_filestat_t st;
    ERRNO(__wasi_path_open(D, 0, "missing", 0, FILE_RW, 0, 0, &fd), __WASI_ERRNO_NOENT);
    ERRNO(__wasi_path_open(D, 0, "file", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd),
          __WASI_ERRNO_NOTDIR);
    ERRNO(__wasi_path_open(D, 0, "file/", 0, 0, 0, 0, &fd), __WASI_ERRNO_NOTDIR);
    ERRNO(__wasi_path_open(D, 0, "", 0, 0, 0, 0, &fd), __WASI_ERRNO_NOENT);
    ERRNO(__wasi_path_open(D, 0, "file", 0x100, 0, 0, 0, &fd), __WASI_ERRNO_INVAL);

    OK(__wasi_path_create_directory(D, "sub"));
    ERRNO(__wasi_path_create_directory(D, "sub"), __WASI_ERRNO_EXIST);
    ERRNO(__wasi_path_create_directory(D, "nope/sub"), __WASI_ERRNO_NOENT);
    OK(__wasi_path_open(D, 0, "sub/", __WASI_OFLAGS_DIRECTORY,
                        __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_FD_SEEK |
                            __WASI_RIGHTS_PATH_CREATE_FILE | __WASI_RIGHTS_FD_FILESTAT_GET,
                        FILE_RW, 0, &sub));
    __wasi_fdstat_t fds;
    OK(__wasi_fd_fdstat_get(sub, &fds));
    CHECK(fds.fs_filetype == __WASI_FILETYPE_DIRECTORY);
    CHECK((fds.fs_rights_base & __WASI_RIGHTS_FD_SEEK) == 0);
    char buf[8];
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
    __wasi_size_t n;
    __wasi_filesize_t pos;
    ERRNO(__wasi_fd_read(sub, &iov, 1, &n), __WASI_ERRNO_ISDIR);
    ERRNO(__wasi_fd_seek(sub, 0, __WASI_WHENCE_CUR, &pos), __WASI_ERRNO_ISDIR);
    ERRNO(__wasi_fd_tell(sub, &pos), __WASI_ERRNO_ISDIR);
    ERRNO(__wasi_fd_filestat_set_size(sub, 0), __WASI_ERRNO_ISDIR);
    ERRNO(__wasi_path_open(D, 0, "sub", __WASI_OFLAGS_DIRECTORY,
                           __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, 0, &fd),
          __WASI_ERRNO_ISDIR);
    /* A path operation through a file descriptor is notdir. */
    fd = open_file(D, "file", 0, __WASI_RIGHTS_FD_READ);
    ERRNO(__wasi_path_open(fd, 0, "x", __WASI_OFLAGS_CREAT, 0, 0, 0, &sub), __WASI_ERRNO_NOTDIR);
    ERRNO(__wasi_path_create_directory(fd, "x"), __WASI_ERRNO_NOTDIR);
    ERRNO(__wasi_fd_readdir(fd, (uint8_t *)buf, sizeof buf, 0, &n), __WASI_ERRNO_NOTDIR);
    OK(__wasi_fd_close(fd));

    /* Rename. */
    OK(__wasi_path_rename(D, "file", D, "sub/moved"));
    ERRNO(__wasi_path_filestat_get(D, 0, "file", &st), __WASI_ERRNO_NOENT);
    OK(__wasi_path_filestat_get(D, 0, "sub/moved", &st));
    OK(__wasi_path_create_directory(D, "dir2"));
    ERRNO(__wasi_path_rename(D, "sub/moved", D, "dir2"), __WASI_ERRNO_ISDIR);
    ERRNO(__wasi_path_rename(D, "dir2", D, "sub"), __WASI_ERRNO_NOTEMPTY);
    ERRNO(__wasi_path_rename(D, "dir2", D, "sub/moved"), __WASI_ERRNO_NOTDIR);
    OK(__wasi_path_rename(D, "dir2/", D, "dir3/"));
    OK(__wasi_path_remove_directory(D, "dir3"));
    ERRNO(__wasi_path_rename(D, "nothing", D, "x"), __WASI_ERRNO_NOENT);

    /* Hard links. */
    OK(__wasi_path_link(D, 0, "sub/moved", D, "linked"));
    OK(__wasi_path_filestat_get(D, 0, "linked", &st));
    CHECK(st.nlink == 2);
    ERRNO(__wasi_path_link(D, 0, "sub/moved", D, "linked"), __WASI_ERRNO_EXIST);
    ERRNO(__wasi_path_link(D, 0, "sub", D, "dirlink"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_link(D, 0, "sub/moved", D, "newlink/"), __WASI_ERRNO_NOENT);
    ERRNO(__wasi_path_link(D, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "sub/moved", D, "l2"),
          __WASI_ERRNO_INVAL);
    OK(__wasi_path_unlink_file(D, "linked"));

    /* Symbolic links. */
    OK(__wasi_path_symlink("moved", D, "sub/sym"));
    char target[16] = {0};
    OK(__wasi_path_readlink(D, "sub/sym", (uint8_t *)target, sizeof target, &n));
    CHECK(n == 5 && memcmp(target, "moved", 5) == 0);
    memset(target, 0, sizeof target);
    OK(__wasi_path_readlink(D, "sub/sym", (uint8_t *)target, 3, &n));
    CHECK(n == 3 && memcmp(target, "mov", 3) == 0 && target[3] == 0);
    ERRNO(__wasi_path_readlink(D, "sub/moved", (uint8_t *)target, sizeof target, &n),
          __WASI_ERRNO_INVAL);
    OK(__wasi_path_filestat_get(D, 0, "sub/sym", &st));
    CHECK(st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK);
    OK(__wasi_path_filestat_get(D, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "sub/sym", &st));
    CHECK(st.filetype == __WASI_FILETYPE_REGULAR_FILE);
    ERRNO(__wasi_path_open(D, 0, "sub/sym", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
          __WASI_ERRNO_LOOP);
    OK(__wasi_path_open(D, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "sub/sym", 0, __WASI_RIGHTS_FD_READ,
                        0, 0, &fd));
    OK(__wasi_fd_close(fd));
    ERRNO(__wasi_path_symlink("moved", D, "sub/sym"), __WASI_ERRNO_EXIST);
    OK(__wasi_path_symlink("loop", D, "loop"));
    ERRNO(__wasi_path_open(D, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "loop", 0, 0, 0, 0, &fd),
          __WASI_ERRNO_LOOP);
    OK(__wasi_path_symlink("nowhere", D, "dangling"));
    ERRNO(__wasi_path_open(D, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dangling", 0, 0, 0, 0, &fd),
          __WASI_ERRNO_NOENT);
    OK(__wasi_path_unlink_file(D, "loop"));
    OK(__wasi_path_unlink_file(D, "dangling"));
    OK(__wasi_path_unlink_file(D, "sub/sym"));

    /* Removal errors. */
    ERRNO(__wasi_path_unlink_file(D, "sub"), __WASI_ERRNO_ISDIR);
    ERRNO(__wasi_path_unlink_file(D, "sub/"), __WASI_ERRNO_ISDIR);
    ERRNO(__wasi_path_unlink_file(D, "sub/moved/"), __WASI_ERRNO_NOTDIR);
    ERRNO(__wasi_path_unlink_file(D, "nothing"), __WASI_ERRNO_NOENT);
    ERRNO(__wasi_path_remove_directory(D, "sub/moved"), __WASI_ERRNO_NOTDIR);
    ERRNO(__wasi_path_remove_directory(D, "sub"), __WASI_ERRNO_NOTEMPTY);
    OK(__wasi_path_unlink_file(D, "sub/moved"));
    OK(__wasi_path_remove_directory(D, "sub/"));
    ERRNO(__wasi_path_remove_directory(D, "sub"), __WASI_ERRNO_NOENT);
}

static void test_readdir_many(void) {
    enum { COUNT = 300 };
    OK(__wasi_path_create_directory(D, "many"));
    __wasi_fd_t dir = 0;
    OK(__wasi_path_open(D, 0, "many", __WASI_OFLAGS_DIRECTORY,
                        __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN |
                            __WASI_RIGHTS_PATH_CREATE_FILE | __WASI_RIGHTS_PATH_UNLINK_FILE |
                            __WASI_RIGHTS_PATH_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_GET,
                        FILE_RW, 0, &dir));
    char name[32];
    for (int i = 0; i < COUNT; i++) {
        snprintf(name, sizeof name, "entry-%03d", i);
        OK(__wasi_fd_close(open_file(dir, name, __WASI_OFLAGS_CREAT, 0)));
    }
    static unsigned char seen[COUNT];
    int dots = 0, total = 0;
    __wasi_dircookie_t cookie = 0;
    __wasi_filestat_t dirst;
    OK(__wasi_fd_filestat_get(dir, &dirst));
    for (;;) {
        /* A small buffer: most calls end in the middle of an entry. */
        uint8_t buf[200];
        __wasi_size_t used = 0;
        OK(__wasi_fd_readdir(dir, buf, sizeof buf, cookie, &used));
        size_t off = 0;
        int whole = 0;
        while (off + sizeof(__wasi_dirent_t) <= used) {
            __wasi_dirent_t ent;
            memcpy(&ent, buf + off, sizeof ent);
            if (off + sizeof ent + ent.d_namlen > used) {
                break;
            }
            char *nm = (char *)buf + off + sizeof ent;
            if (ent.d_namlen == 1 && nm[0] == '.') {
                CHECK(ent.d_type == __WASI_FILETYPE_DIRECTORY);
                CHECK(ent.d_ino == dirst.ino);
                dots++;
            } else if (ent.d_namlen == 2 && memcmp(nm, "..", 2) == 0) {
                dots++;
            } else {
                CHECK(ent.d_namlen == 9 && memcmp(nm, "entry-", 6) == 0);
                int i = (nm[6] - '0') * 100 + (nm[7] - '0') * 10 + (nm[8] - '0');
                CHECK(i >= 0 && i < COUNT && !seen[i]);
                CHECK(ent.d_type == __WASI_FILETYPE_REGULAR_FILE);
                seen[i] = 1;
                if (i == 7) {
                    __wasi_filestat_t st;
                    OK(__wasi_path_filestat_get(dir, 0, "entry-007", &st));
                    CHECK(st.ino == ent.d_ino);
                }
            }
            total++;
            whole++;
            cookie = ent.d_next;
            off += sizeof ent + ent.d_namlen;
        }
        if (used < sizeof buf) {
            break;
        }
        CHECK(whole > 0);
    }
    CHECK(dots == 2);
    CHECK(total == COUNT + 2);
    /* Reading past the end gives nothing. */
    uint8_t buf[64];
    __wasi_size_t used = 0;
    OK(__wasi_fd_readdir(dir, buf, sizeof buf, cookie, &used));
    CHECK(used == 0);
    for (int i = 0; i < COUNT; i++) {
        snprintf(name, sizeof name, "entry-%03d", i);
        OK(__wasi_path_unlink_file(dir, name));
    }
    OK(__wasi_fd_readdir(dir, buf, sizeof buf, 0, &used));
    CHECK(used == 2 * sizeof(__wasi_dirent_t) + 3);
    OK(__wasi_fd_close(dir));
    OK(__wasi_path_remove_directory(D, "many"));
}

/* The same through libc, as ordinary programs do it (paths resolve against the preopen). */
static void test_libc(void) {
    FILE *f = fopen("/sandbox/notes.txt", "w");
    CHECK(f != NULL);
    CHECK(fprintf(f, "line %d\n", 1) > 0);
    CHECK(fputs("line 2\n", f) >= 0);
    CHECK(fclose(f) == 0);
    f = fopen("/sandbox/notes.txt", "r");
    CHECK(f != NULL);
    char line[32];
    CHECK(fgets(line, sizeof line, f) && strcmp(line, "line 1\n") == 0);
    CHECK(fgets(line, sizeof line, f) && strcmp(line, "line 2\n") == 0);
    CHECK(fgets(line, sizeof line, f) == NULL && feof(f));
    CHECK(fseek(f, 5, SEEK_SET) == 0 && ftell(f) == 5);
    CHECK(fclose(f) == 0);

    struct stat st;
    CHECK(stat("/sandbox/notes.txt", &st) == 0 && st.st_size == 14 && S_ISREG(st.st_mode));
    CHECK(mkdir("/sandbox/d", 0755) == 0);
    CHECK(rename("/sandbox/notes.txt", "/sandbox/d/notes.txt") == 0);
    CHECK(stat("/sandbox/notes.txt", &st) == -1 && errno == ENOENT);
    CHECK(symlink("notes.txt", "/sandbox/d/link") == 0);
    char target[32] = {0};
    CHECK(readlink("/sandbox/d/link", target, sizeof target) == 9);
    CHECK(lstat("/sandbox/d/link", &st) == 0 && S_ISLNK(st.st_mode));
    int fd = open("/sandbox/d/link", O_RDONLY);
    CHECK(fd >= 0);
    CHECK(lseek(fd, 0, SEEK_END) == 14);
    CHECK(close(fd) == 0);

    DIR *d = opendir("/sandbox/d");
    CHECK(d != NULL);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, "notes.txt") == 0 || strcmp(e->d_name, "link") == 0) {
            found++;
        }
    }
    CHECK(found == 2);
    CHECK(closedir(d) == 0);
    CHECK(unlink("/sandbox/d/link") == 0);
    CHECK(unlink("/sandbox/d/notes.txt") == 0);
    CHECK(rmdir("/sandbox/d") == 0);
    CHECK(rmdir("/sandbox/d") == -1 && errno == ENOENT);
    CHECK(access("/sandbox", F_OK) == 0);
}

int main(void) {
    test_prestat();
    test_read_write_seek();
    test_append();
    test_paths();
    test_readdir_many();
    test_libc();
    puts("fs ok");
    return 0;
}
