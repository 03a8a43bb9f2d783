/* lua_sys.c: the system helpers of imapsift.core that Lua lacks: isatty,
 * getpass (a password from the terminal, echo off), write_file_atomic,
 * mkdir_p, versions, time and getpid. Failures of the system are
 * returned as nil, text; wrong arguments raise. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <pcre2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lua_core.h"
#include "signals.h"

/* nil, "what: strerror(err)" */
static int fail_errno(lua_State *L, const char *what, int err)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", what, strerror(err));
    return 2;
}

/* isatty(fd) -> boolean */
static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);

    lua_pushboolean(L, fd >= 0 && fd <= INT_MAX && isatty((int)fd));
    return 1;
}

/* The mode argument at idx (default dflt): permission bits only. */
static mode_t mode_arg(lua_State *L, int idx, mode_t dflt)
{
    lua_Integer m = luaL_optinteger(L, idx, (lua_Integer)dflt);

    luaL_argcheck(L, m >= 0 && m <= 07777, idx, "not a file mode");
    return (mode_t)m;
}

/* A path argument that fits PATH_MAX and holds no NUL. */
static const char *path_arg(lua_State *L, int idx)
{
    size_t n;
    const char *p = luaL_checklstring(L, idx, &n);

    luaL_argcheck(L, n > 0 && n < PATH_MAX && strlen(p) == n, idx,
                  "not a usable path");
    return p;
}

/* Reads one line from the terminal fd into buf (NUL-terminated, without
 * the newline). Waits in short polls so that a TERM or INT (caught by
 * signals.c, which restarts reads) ends the wait. NULL on success, else
 * why not. */
static const char *read_secret_line(int fd, char *buf, size_t size)
{
    size_t len = 0;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (isf_signals_stopping())
            return "interrupted";
        if (poll(&pfd, 1, 200) <= 0)
            continue; /* timeout or EINTR: look at the stop state again */
        n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return n == 0 ? "end of input" : strerror(errno);
        len += (size_t)n;
        buf[len] = '\0';
        if (memchr(buf, '\n', len) != NULL) {
            *strchr(buf, '\n') = '\0';
            return NULL;
        }
        if (len == size - 1)
            return "line too long";
    }
}

/* getpass(prompt) -> text | nil, why: prompts on /dev/tty with echo off.
 * The terminal's settings come back also when reading fails; the local
 * copy of the secret is wiped (the Lua string is the caller's). */
static int l_getpass(lua_State *L)
{
    const char *prompt = luaL_checkstring(L, 1);
    struct termios saved, quiet;
    const char *why;
    char buf[1024];
    int fd;
    ssize_t w;

    fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || tcgetattr(fd, &saved) != 0) {
        if (fd >= 0)
            close(fd);
        lua_pushnil(L);
        lua_pushliteral(L, "no terminal");
        return 2;
    }
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    /* echo goes off before the prompt shows: nothing typed after it is
     * echoed or flushed */
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        why = strerror(errno);
    } else {
        w = write(fd, prompt, strlen(prompt));
        (void)w;
        why = read_secret_line(fd, buf, sizeof buf);
    }
    tcsetattr(fd, TCSAFLUSH, &saved);
    w = write(fd, "\n", 1);
    close(fd);
    if (why == NULL)
        lua_pushstring(L, buf);
    OPENSSL_cleanse(buf, sizeof buf);
    if (why == NULL)
        return 1;
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

/* The directory part of path into dir ("." when there is none). */
static void dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    size_t n;

    if (slash == NULL) {
        snprintf(dir, size, ".");
        return;
    }
    n = slash == path ? 1 : (size_t)(slash - path);
    snprintf(dir, size, "%.*s", (int)n, path);
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync of a directory, so that a rename in it survives a crash. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes data to a new temporary file beside path, then renames it over
 * path. Returns NULL or the step that failed (errno set); the temporary
 * file is gone on failure. */
static const char *replace_file(const char *path, const char *data,
                                size_t len, mode_t mode)
{
    char tmp[PATH_MAX + 8], dir[PATH_MAX];
    const char *step = NULL;
    int fd, err;

    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0)
        return "creating a temporary file";
    if (fchmod(fd, mode) != 0)
        step = "setting its mode";
    else if (write_all(fd, data, len) != 0)
        step = "writing";
    else if (fsync(fd) != 0)
        step = "syncing";
    err = errno;
    if (close(fd) != 0 && step == NULL) {
        step = "closing";
        err = errno;
    }
    if (step == NULL && rename(tmp, path) != 0) {
        step = "renaming";
        err = errno;
    }
    if (step != NULL) {
        unlink(tmp);
        errno = err;
        return step;
    }
    dir_of(path, dir, sizeof dir);
    return sync_dir(dir) != 0 ? "syncing its directory" : NULL;
}

/* write_file_atomic(path, data [, mode = 0600]) -> true | nil, why */
static int l_write_file_atomic(lua_State *L)
{
    const char *path = path_arg(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    mode_t mode = mode_arg(L, 3, 0600);
    const char *step = replace_file(path, data, len, mode);
    int err = errno;

    if (step != NULL) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s: %s", path, step, strerror(err));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Creates dir unless a directory is there already. 0 or -1 with errno. */
static int make_dir(const char *dir, mode_t mode)
{
    struct stat st;

    if (mkdir(dir, mode) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    if (stat(dir, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* mkdir_p(path [, mode = 0700]) -> true | nil, why: every missing
 * directory of path is created with mode (existing ones are kept). */
static int l_mkdir_p(lua_State *L)
{
    char buf[PATH_MAX];
    const char *path = path_arg(L, 1);
    mode_t mode = mode_arg(L, 2, 0700);
    char *p;

    snprintf(buf, sizeof buf, "%s", path);
    for (p = buf + 1; *p != '\0'; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        if (make_dir(buf, mode) != 0)
            return fail_errno(L, buf, errno);
        *p = '/';
    }
    if (make_dir(buf, mode) != 0)
        return fail_errno(L, buf, errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* versions() -> { lua, openssl, pcre2, zlib }: the libraries in use. */
static int l_versions(lua_State *L)
{
    char pcre[64] = "";

    if (pcre2_config(PCRE2_CONFIG_VERSION, NULL) <= (int)sizeof pcre)
        pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    lua_createtable(L, 0, 4);
    lua_pushliteral(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua");
    lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
    lua_setfield(L, -2, "openssl");
    lua_pushstring(L, pcre);
    lua_setfield(L, -2, "pcre2");
    lua_pushstring(L, zlibVersion());
    lua_setfield(L, -2, "zlib");
    return 1;
}

/* time() -> seconds since the epoch on the wall clock (a float). */
static int l_time(lua_State *L)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

void isf_lua_open_sys(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"isatty", l_isatty},
        {"getpass", l_getpass},
        {"write_file_atomic", l_write_file_atomic},
        {"mkdir_p", l_mkdir_p},
        {"versions", l_versions},
        {"time", l_time},
        {"getpid", l_getpid},
        {NULL, NULL},
    };

    luaL_setfuncs(L, funcs, 0);
}
