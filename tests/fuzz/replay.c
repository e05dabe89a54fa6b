/* replay.c: runs every file of a fuzz target's corpus once through its
 * LLVMFuzzerTestOneInput, each file in a child process of its own, and reports like a cmocka
 * test binary (one test per file): `make fuzz-replay` needs neither clang nor libFuzzer, and
 * its lines are counted with the unit tests'. A file fails when its child does not exit 0:
 * a crash, an abort() from one of the target's checks, a sanitizer report.
 *
 * It runs with glibc's per-thread malloc cache off (it re-executes itself with
 * GLIBC_TUNABLES=glibc.malloc.tcache_count=0): a freed block then counts as free in
 * mallinfo2() at once, and a target can compare the heap in use before and after an input to
 * see a leak without LeakSanitizer (fuzz_protocol.c does).
 *
 * Like cmocka, it prints TAP when CMOCKA_MESSAGE_OUTPUT=TAP (how `make check` runs the unit
 * binaries). Without arguments it replays the corpus named at build time (FUZZ_CORPUS).
 *
 * usage: fuzz_replay_TARGET [PATH...]   (directories are read one level deep, sorted) */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
        char *path;
        char *name; /* the test's name: the corpus directory's own name and the file's */
};

struct inputs {
        struct input *v;
        size_t n, cap;
};

/* Globals, so that LeakSanitizer, in the children and at the end, sees them reachable. */
static struct inputs corpus;
static char **failures;

static _Noreturn void die(const char *what)
{
        perror(what);
        exit(1);
}

static void add(struct inputs *in, const char *dir, const char *name)
{
        if (in->n == in->cap) {
                in->cap = in->cap ? in->cap * 2 : 64;
                in->v = realloc(in->v, in->cap * sizeof(*in->v));
                if (!in->v)
                        die("replay");
        }
        struct input *i = &in->v[in->n++];
        if (!dir) {
                i->path = strdup(name);
                i->name = strdup(name);
        } else {
                const char *slash = strrchr(dir, '/');
                if (asprintf(&i->path, "%s/%s", dir, name) < 0 ||
                    asprintf(&i->name, "%s/%s", slash ? slash + 1 : dir, name) < 0)
                        i->path = NULL;
        }
        if (!i->path || !i->name)
                die("replay");
}

static int by_name(const void *a, const void *b)
{
        return strcmp(((const struct input *)a)->name, ((const struct input *)b)->name);
}

/* A directory's files (but those starting with '.'), sorted, or the path itself. Returns
 * -errno. */
static int collect(struct inputs *in, const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode)) {
                add(in, NULL, path);
                return 0;
        }
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        char *dir = strdup(path); /* without trailing slashes: it names the tests */
        if (!dir)
                die("replay");
        for (size_t l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--)
                dir[l - 1] = '\0';
        size_t first = in->n;
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                add(in, dir, e->d_name);
        }
        closedir(d);
        free(dir);
        qsort(in->v + first, in->n - first, sizeof(*in->v), by_name);
        return 0;
}

/* In the child: the whole file, once through the target. */
static _Noreturn void run_one(const char *path)
{
        FILE *f = fopen(path, "rbe");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                exit(2);
        }
        size_t cap = 4096, len = 0, n;
        uint8_t *buf = malloc(cap);
        while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
                len += n;
                if (len == cap)
                        buf = realloc(buf, cap *= 2);
        }
        if (!buf || ferror(f)) {
                fprintf(stderr, "%s: cannot read\n", path);
                exit(2);
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        exit(0); /* exit, not _exit: LeakSanitizer checks at exit */
}

/* NULL when the child passed, or what happened to it. */
static const char *outcome(int status, char *buf, size_t len)
{
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return NULL;
        if (WIFSIGNALED(status))
                snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else
                snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
        return buf;
}

#define NO_TCACHE "glibc.malloc.tcache_count=0"

/* Re-executes this program with glibc's per-thread cache off, unless it already is. */
static void heap_accounting_exact(char **argv)
{
        const char *t = getenv("GLIBC_TUNABLES");
        if (t && strstr(t, NO_TCACHE))
                return;
        char *v;
        if (asprintf(&v, "%s%s" NO_TCACHE, t ? t : "", t ? ":" : "") < 0 ||
            setenv("GLIBC_TUNABLES", v, 1) < 0)
                die("replay");
        execv("/proc/self/exe", argv);
        die("replay: execv /proc/self/exe");
}

/* The two report formats of cmocka: its default one, and TAP. */
struct report {
        bool tap;
        size_t n, failed;
        const char *group;
};

static void report_start(struct report *rep)
{
        if (rep->tap)
                printf("1..%zu\n", rep->n);
        else
                printf("[==========] Running %zu test(s).\n", rep->n);
}

static void report_test(struct report *rep, size_t i, const char *name, const char *failure)
{
        if (failure)
                rep->failed++;
        if (rep->tap) {
                printf("%sok %zu - %s\n", failure ? "not " : "", i + 1, name);
                if (failure)
                        printf("# %s\n", failure);
        } else if (failure) {
                printf("[  ERROR   ] --- %s\n[  FAILED  ] %s\n", failure, name);
        } else {
                printf("[       OK ] %s\n", name);
        }
}

static void report_end(struct report *rep)
{
        if (rep->tap) {
                printf("# %sok - %s\n", rep->failed ? "not " : "", rep->group);
                return;
        }
        printf("[==========] %zu test(s) run.\n", rep->n);
        printf("[  PASSED  ] %zu test(s).\n", rep->n - rep->failed);
        if (!rep->failed)
                return;
        printf("[  FAILED  ] %zu test(s), listed below:\n", rep->failed);
        for (size_t i = 0; i < rep->failed; i++)
                printf("[  FAILED  ] %s\n", failures[i]);
        printf("\n %zu FAILED TEST(S)\n", rep->failed);
}

int main(int argc, char **argv)
{
        heap_accounting_exact(argv);
#ifdef FUZZ_CORPUS
        char *default_corpus[] = {argv[0], (char *)FUZZ_CORPUS, NULL};
        if (argc == 1) {
                argc = 2;
                argv = default_corpus;
        }
#endif
        for (int i = 1; i < argc; i++) {
                int r = collect(&corpus, argv[i]);
                if (r < 0) {
                        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(-r));
                        return 1;
                }
        }
        if (corpus.n == 0) {
                fprintf(stderr, "replay: no corpus files given\n");
                return 1;
        }

        const char *output = getenv("CMOCKA_MESSAGE_OUTPUT");
        struct report rep = {
            .tap = output && strcasecmp(output, "TAP") == 0,
            .n = corpus.n,
            .group = program_invocation_short_name,
        };
        failures = calloc(corpus.n, sizeof(*failures));
        if (!failures)
                die("replay");
        report_start(&rep);
        for (size_t i = 0; i < corpus.n; i++) {
                if (!rep.tap)
                        printf("[ RUN      ] %s\n", corpus.v[i].name);
                fflush(stdout);
                pid_t pid = fork();
                if (pid < 0)
                        die("replay: fork");
                if (pid == 0)
                        run_one(corpus.v[i].path);
                int status;
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                die("replay: waitpid");
                char why[128];
                const char *failure = outcome(status, why, sizeof(why));
                if (failure)
                        failures[rep.failed] = corpus.v[i].name;
                report_test(&rep, i, corpus.v[i].name, failure);
                fflush(stdout); /* the next child's reports go to stderr */
        }
        report_end(&rep);
        return rep.failed ? 1 : 0;
}
