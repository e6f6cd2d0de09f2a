/* Escape attempts, each refused with the errno other runtimes give. The host directory holds
 * outside.txt next to the two preopens: "sandbox" (fd 3, writable, empty) and "ro" (fd 4,
 * read-only, holding file.txt and sub/). The harness checks afterwards that nothing outside
 * the sandbox changed. Prints "escape ok". */
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static const __wasi_fd_t SB = 3, RO = 4;

static void test_dotdot_and_absolute(void) {
    __wasi_fd_t fd = 0;
    __wasi_filestat_t st;
    ERRNO(__wasi_path_open(SB, 0, "../outside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_open(SB, 0, "..", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_open(SB, 0, "/etc/passwd", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_open(SB, 0, "/", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd), __WASI_ERRNO_PERM);
    OK(__wasi_path_create_directory(SB, "a"));
    ERRNO(__wasi_path_open(SB, 0, "a/../../outside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    /* ".." that stays inside is fine. */
    OK(__wasi_path_open(SB, 0, "a/.././a/..", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd));
    OK(__wasi_fd_close(fd));
    ERRNO(__wasi_path_filestat_get(SB, 0, "../outside.txt", &st), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_create_directory(SB, "../made"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_unlink_file(SB, "../outside.txt"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_remove_directory(SB, "../ro"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_open(SB, 0, "../created", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0,
                           &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_filestat_set_times(SB, 0, "../outside.txt", 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
          __WASI_ERRNO_PERM);
    /* Through libc the same paths fail too. */
    CHECK(open("/sandbox/../outside.txt", O_RDONLY) == -1);
    CHECK(open("/outside.txt", O_RDONLY) == -1);
    CHECK(open("/etc/passwd", O_RDONLY) == -1);
}

static void test_symlinks(void) {
    __wasi_fd_t fd = 0;
    __wasi_filestat_t st;
    /* A relative link pointing out may exist, but cannot be followed. */
    OK(__wasi_path_symlink("../outside.txt", SB, "out"));
    ERRNO(__wasi_path_open(SB, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "out", 0, __WASI_RIGHTS_FD_READ, 0,
                           0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_filestat_get(SB, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "out", &st),
          __WASI_ERRNO_PERM);
    OK(__wasi_path_filestat_get(SB, 0, "out", &st));
    CHECK(st.filetype == __WASI_FILETYPE_SYMBOLIC_LINK);
    ERRNO(__wasi_path_filestat_set_times(SB, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "out", 0, 0,
                                         __WASI_FSTFLAGS_MTIM_NOW),
          __WASI_ERRNO_PERM);
    /* A link to a directory outside, used as a path prefix. */
    OK(__wasi_path_symlink("..", SB, "up"));
    ERRNO(__wasi_path_open(SB, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "up/outside.txt", 0,
                           __WASI_RIGHTS_FD_READ, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_open(SB, 0, "up/outside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_create_directory(SB, "up/made"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_unlink_file(SB, "up/outside.txt"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_rename(SB, "a", SB, "up/a"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_symlink("x", SB, "up/newlink"), __WASI_ERRNO_PERM);
    /* Absolute targets cannot even be created. */
    ERRNO(__wasi_path_symlink("/etc/passwd", SB, "abs"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_symlink("/", SB, "root"), __WASI_ERRNO_PERM);
    CHECK(symlink("/etc", "/sandbox/etc") == -1);
    CHECK(open("/sandbox/out", O_RDONLY) == -1);
    /* A chain of links that wanders out. */
    OK(__wasi_path_symlink("a/../up", SB, "chain"));
    ERRNO(__wasi_path_open(SB, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "chain/outside.txt", 0,
                           __WASI_RIGHTS_FD_READ, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    OK(__wasi_path_unlink_file(SB, "chain"));
    OK(__wasi_path_unlink_file(SB, "out"));
    OK(__wasi_path_unlink_file(SB, "up"));
}

static void test_hard_links(void) {
    __wasi_fd_t fd = open_file(SB, "inside", __WASI_OFLAGS_CREAT, FILE_RW);
    OK(__wasi_fd_close(fd));
    /* Neither end of a hard link may be outside. */
    ERRNO(__wasi_path_link(SB, 0, "inside", SB, "../linked"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_link(SB, 0, "../outside.txt", SB, "stolen"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_rename(SB, "inside", SB, "../moved"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_rename(SB, "../outside.txt", SB, "stolen"), __WASI_ERRNO_PERM);
    /* Linking from the read-only preopen into the writable one would alias a protected file. */
    ERRNO(__wasi_path_link(RO, 0, "file.txt", SB, "alias"), __WASI_ERRNO_PERM);
    OK(__wasi_path_unlink_file(SB, "inside"));
}

static void test_read_only(void) {
    __wasi_fdstat_t st;
    OK(__wasi_fd_fdstat_get(RO, &st));
    CHECK(st.fs_rights_base & __WASI_RIGHTS_PATH_OPEN);
    CHECK((st.fs_rights_base & __WASI_RIGHTS_PATH_CREATE_FILE) == 0);
    CHECK((st.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE) == 0);

    /* Reading works. */
    __wasi_fd_t fd = open_file(RO, "file.txt", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK);
    char buf[32] = {0};
    CHECK(read_some(fd, buf, sizeof buf) == 10 && strcmp(buf, "read only\n") == 0);
    OK(__wasi_fd_fdstat_get(fd, &st));
    CHECK((st.fs_rights_base & __WASI_RIGHTS_FD_WRITE) == 0);
    __wasi_ciovec_t iov = {(const uint8_t *)"x", 1};
    __wasi_size_t n;
    ERRNO(__wasi_fd_write(fd, &iov, 1, &n), __WASI_ERRNO_NOTCAPABLE);
    ERRNO(__wasi_fd_pwrite(fd, &iov, 1, 0, &n), __WASI_ERRNO_NOTCAPABLE);
    ERRNO(__wasi_fd_filestat_set_size(fd, 0), __WASI_ERRNO_NOTCAPABLE);
    ERRNO(__wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
          __WASI_ERRNO_NOTCAPABLE);
    ERRNO(__wasi_fd_allocate(fd, 0, 100), __WASI_ERRNO_NOTCAPABLE);
    ERRNO(__wasi_fd_fdstat_set_rights(fd, __WASI_RIGHTS_FD_WRITE, 0), __WASI_ERRNO_NOTCAPABLE);
    OK(__wasi_fd_close(fd));

    /* Every change is refused before the host sees it. */
    ERRNO(__wasi_path_open(RO, 0, "file.txt", 0, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_open(RO, 0, "file.txt", __WASI_OFLAGS_TRUNC, 0, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_open(RO, 0, "new.txt", __WASI_OFLAGS_CREAT, 0, 0, 0, &fd), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_create_directory(RO, "d"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_unlink_file(RO, "file.txt"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_remove_directory(RO, "sub"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_rename(RO, "file.txt", RO, "renamed.txt"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_rename(RO, "file.txt", SB, "taken.txt"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_symlink("file.txt", RO, "link"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_link(RO, 0, "file.txt", RO, "hard"), __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_filestat_set_times(RO, 0, "file.txt", 0, 0, __WASI_FSTFLAGS_MTIM_NOW),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_fd_filestat_set_times(RO, 0, 0, __WASI_FSTFLAGS_MTIM_NOW), __WASI_ERRNO_PERM);

    /* A subdirectory opened through it is read-only too. */
    __wasi_fd_t sub = 0;
    ERRNO(__wasi_path_open(RO, 0, "sub", __WASI_OFLAGS_DIRECTORY, ~(__wasi_rights_t)0,
                           ~(__wasi_rights_t)0, 0, &sub),
          __WASI_ERRNO_PERM); /* asks for FD_WRITE */
    OK(__wasi_path_open(RO, 0, "sub", __WASI_OFLAGS_DIRECTORY,
                        ~(__wasi_rights_t)0 & ~(__wasi_rights_t)__WASI_RIGHTS_FD_WRITE,
                        ~(__wasi_rights_t)0, 0, &sub));
    OK(__wasi_fd_fdstat_get(sub, &st));
    CHECK((st.fs_rights_base & __WASI_RIGHTS_PATH_CREATE_FILE) == 0);
    ERRNO(__wasi_path_open(sub, 0, "new.txt", __WASI_OFLAGS_CREAT, 0, 0, 0, &fd),
          __WASI_ERRNO_PERM);
    ERRNO(__wasi_path_create_directory(sub, "d"), __WASI_ERRNO_PERM);
    OK(__wasi_fd_close(sub));

    /* Through libc. */
    CHECK(fopen("/ro/file.txt", "w") == NULL && errno == EPERM);
    CHECK(fopen("/ro/file.txt", "a") == NULL);
    CHECK(mkdir("/ro/d", 0755) == -1 && errno == EPERM);
    CHECK(unlink("/ro/file.txt") == -1 && errno == EPERM);
    FILE *f = fopen("/ro/file.txt", "r");
    CHECK(f != NULL);
    CHECK(fgets(buf, sizeof buf, f) && strcmp(buf, "read only\n") == 0);
    CHECK(fclose(f) == 0);
}

int main(void) {
    test_dotdot_and_absolute();
    test_symlinks();
    test_hard_links();
    test_read_only();
    OK(__wasi_path_remove_directory(SB, "a"));
    puts("escape ok");
    return 0;
}
