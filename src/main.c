/*
 * main.c - the command line and the signals; nothing else.
 *
 * Reads and checks the configuration (-t stops there), opens the error log, asks server.c
 * for the node, writes the pid file, and turns signals into server calls: TERM/INT/QUIT
 * drain and exit, USR1 reopens the logs, HUP reloads the file, USR2 starts the binary
 * upgrade (upgrade.c). -s sends one of those signals to the process named by the config's
 * pid file, as nginx -s does. The service manager hears READY=1 once the node serves,
 * RELOADING=1 around a reload and STOPPING=1 when a drain begins (notify.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>

#include "blockedge/admission.h"
#include "blockedge/alloc.h"
#include "blockedge/config.h"
#include "blockedge/directives.h"
#include "blockedge/diskstore.h"
#include "blockedge/listen.h"
#include "blockedge/log.h"
#include "blockedge/notify.h"
#include "blockedge/origin.h"
#include "blockedge/server.h"
#include "blockedge/tls.h"
#include "blockedge/upgrade.h"

/* The options, for usage() and for blockedge(8) (-M 8). */
static const be_cli_option_t options[] = {
    {'c', "FILE", "configuration file (default: " BE_DEFAULT_CONF_PATH ")"},
    {'t', NULL, "test the configuration and exit"},
    {'s', "SIG",
     "send SIG to the running blockedge named by the config's pid file:\n"
     "stop (TERM), quit (QUIT), reopen (USR1: logs), reload (HUP)"},
    {'T', NULL, "print every directive with its default and help, then exit"},
    {'M', "DOC",
     "print a document made from the directive table, then exit:\n"
     "5: blockedge.conf(5), 8: blockedge(8) (roff),\n"
     "md: the README's configuration tables (Markdown)"},
    {'v', NULL, "print the versions of blockedge and its libraries, then exit"},
    {'h', NULL, "print this help and exit"},
};

static void
usage(FILE *out)
{
    fputs("usage: blockedge", out);
    for (size_t i = 0; i < BE_ARRAY_LEN(options); i++)
        fprintf(out, options[i].arg ? " [-%c %s]" : " [-%c]", options[i].opt,
                options[i].arg ? options[i].arg : "");
    fputc('\n', out);
    for (size_t i = 0; i < BE_ARRAY_LEN(options); i++) {
        const char *h = options[i].help, *nl;
        fprintf(out, "  -%c %-5s ", options[i].opt, options[i].arg ? options[i].arg : "");
        while ((nl = strchr(h, '\n')) != NULL) {
            fprintf(out, "%.*s\n%11s", (int)(nl - h), h, "");
            h = nl + 1;
        }
        fprintf(out, "%s\n", h);
    }
}

static void
print_versions(void)
{
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    nghttp2_info *nv = nghttp2_version(0);
    printf("blockedge version %s\n", BE_VERSION);
    printf("libevent %s, nghttp2 %s, %s, libcurl %s, %s\n", event_get_version(), nv->version_str,
           OpenSSL_version(OPENSSL_VERSION), cv->version, be_alloc_name());
}

typedef struct {
    struct event_base *base;
    be_server_t *srv;
    const char *conf_path;
    char *const *argv;
    be_upgrade_t *upgrade;
    int stop_signal;
} control_t;

static void
on_handed_over(void *arg)
{
    control_t *ctl = arg;
    if (ctl->stop_signal == 0)
        ctl->stop_signal = SIGUSR2;
    event_base_loopexit(ctl->base, NULL);
}

/* SIGUSR2: the binary at argv[0] takes over; one upgrade at a time. */
static void
upgrade(control_t *ctl)
{
    if (be_upgrade_pending(ctl->upgrade) || ctl->stop_signal != 0) {
        be_log(BE_LOG_WARN, "SIGUSR2 ignored: %s",
               ctl->stop_signal != 0 ? "this process is exiting"
                                     : "an upgrade is already under way");
        return;
    }
    be_upgrade_free(&ctl->upgrade);
    be_log(BE_LOG_NOTICE, "SIGUSR2 received, starting the new binary \"%s\"", ctl->argv[0]);
    ctl->upgrade = be_upgrade_start(ctl->srv, ctl->argv, on_handed_over, ctl);
}

/* SIGHUP: the file is read again; one that does not load changes nothing. */
static void
reload(control_t *ctl)
{
    be_log(BE_LOG_NOTICE, "SIGHUP received, reloading \"%s\"", ctl->conf_path);
    be_notify_reloading();
    be_config_t *cfg = malloc(sizeof(*cfg));
    char err[2048];
    if (cfg == NULL || be_config_load(cfg, ctl->conf_path, err, sizeof(err)) != BE_OK) {
        be_log(BE_LOG_EMERG, "%s; configuration not reloaded, the running one is kept",
               cfg != NULL ? err : "out of memory");
        free(cfg);
        be_server_reload_failed(ctl->srv);
        be_notify_ready();
        return;
    }
    be_server_reload(ctl->srv, cfg);
    be_notify_ready();
}

/* The first stop signal: with drain_delay, /healthz answers 503 "draining" while everything
 * still serves, so a load balancer takes the node out before its sockets close; the loop ends
 * (and the drain begins) when the delay is over. */
static void
stop(control_t *ctl, int sig)
{
    be_services_t *svc = be_server_services(ctl->srv);
    be_msec_t delay = svc->cfg->drain_delay;
    ctl->stop_signal = sig;
    be_notify_stopping();
    if (delay <= 0) {
        be_log(BE_LOG_NOTICE, "signal %d received, finishing requests and exiting", sig);
        event_base_loopexit(ctl->base, NULL);
        return;
    }
    be_log(BE_LOG_NOTICE,
           "signal %d received: /healthz answers 503 for drain_delay %lld ms, then requests "
           "finish and the node exits",
           sig, (long long)delay);
    svc->draining = 1;
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    event_base_loopexit(ctl->base, &tv);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    BE_UNUSED(what);
    control_t *ctl = arg;
    switch (sig) {
    case SIGTERM:
    case SIGINT:
    case SIGQUIT:
        if (ctl->stop_signal == 0)
            stop(ctl, (int)sig);
        else
            event_base_loopexit(ctl->base, NULL); /* a second one ends drain_delay early */
        break;
    case SIGUSR1: {
        const be_config_t *cfg = be_server_services(ctl->srv)->cfg;
        if (be_log_open(cfg->error_log_path, cfg->error_log_level) != BE_OK)
            be_log(BE_LOG_ALERT, "open() \"%s\" failed (%d: %s) while reopening logs",
                   cfg->error_log_path, errno, strerror(errno));
        else
            be_log(BE_LOG_NOTICE, "logs reopened");
        be_server_reopen_logs(ctl->srv);
        break;
    }
    case SIGHUP:
        reload(ctl);
        break;
    case SIGUSR2:
        upgrade(ctl);
        break;
    }
}

static int
write_pid(const char *path)
{
    if (path[0] == '\0')
        return BE_OK;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        be_log(BE_LOG_EMERG, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return BE_ERROR;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return BE_OK;
}

static const struct {
    const char *name;
    int sig;
} signal_names[] = {{"stop", SIGTERM}, {"quit", SIGQUIT}, {"reopen", SIGUSR1}, {"reload", SIGHUP}};

/* -s NAME: reads the pid file of cfg and signals that process. 0, or 1 with a reason. */
static int
send_signal(const be_config_t *cfg, int sig)
{
    const char *path = cfg->pid_path;
    if (path[0] == '\0') {
        fprintf(stderr,
                "blockedge: [error] no \"pid\" file in %s: cannot find the running "
                "process\n",
                cfg->path);
        return 1;
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        int e = errno;
        fprintf(stderr, "blockedge: [error] open() \"%s\" failed (%d: %s)\n", path, e, strerror(e));
        return 1;
    }
    char line[64] = "";
    char *end = NULL;
    long pid = fgets(line, sizeof(line), f) != NULL ? strtol(line, &end, 10) : 0;
    fclose(f);
    if (pid <= 0 || end == line || (*end != '\n' && *end != '\0')) {
        line[strcspn(line, "\n")] = '\0';
        fprintf(stderr, "blockedge: [error] invalid PID number \"%s\" in \"%s\"\n", line, path);
        return 1;
    }
    if (kill((pid_t)pid, sig) != 0) {
        int e = errno;
        fprintf(stderr, "blockedge: [error] kill(%ld, %d) failed (%d: %s)\n", pid, sig, e,
                strerror(e));
        return 1;
    }
    return 0;
}

/* Warns when max_connections plus what the node itself needs is past the open-files limit:
 * clients past it would be refused at accept() instead of by the connection limit. */
static void
check_fd_limit(const be_config_t *cfg, int to_stderr)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    unsigned long reserve = be_server_fd_reserve(cfg);
    unsigned long need = (unsigned long)cfg->max_connections + reserve;
    if (need <= (unsigned long)rl.rlim_cur)
        return;
    char msg[384];
    snprintf(msg, sizeof(msg),
             "max_connections %d plus about %lu descriptors the node needs is more than the "
             "open files limit %llu (ulimit -n): at most %lu client connections are accepted; "
             "raise the limit or lower max_connections",
             cfg->max_connections, reserve, (unsigned long long)rl.rlim_cur,
             be_server_conn_ceiling(cfg));
    if (to_stderr)
        fprintf(stderr, "blockedge: [warn] %s\n", msg);
    else
        be_log(BE_LOG_WARN, "%s", msg);
}

/* Warns when group or others may read the signed-URL secret file (the secrets are loaded
 * anyway: refusing would take a node down over a mode bit). */
static void
check_secret_mode(const be_config_t *cfg, int to_stderr)
{
    if (!cfg->auth_secret_file_loose)
        return;
    char msg[1200];
    snprintf(msg, sizeof(msg),
             "\"secret_file\" \"%s\" is readable by group or others: anyone who reads it "
             "can sign URLs; chmod 600 it",
             cfg->auth_secret_file);
    if (to_stderr)
        fprintf(stderr, "blockedge: [warn] %s\n", msg);
    else
        be_log(BE_LOG_WARN, "%s", msg);
}

/* Says when disk_admission policy works as second_hit (memory_policy lru or sieve). */
static void
check_disk_admission(const be_config_t *cfg, int to_stderr)
{
    const char *msg = be_admission_note(cfg->disk_admission, cfg->memory_policy);
    if (msg == NULL)
        return;
    if (to_stderr)
        fprintf(stderr, "blockedge: [notice] %s\n", msg);
    else
        be_log(BE_LOG_NOTICE, "%s", msg);
}

/* Removes the pid file if it still names this process (after an upgrade it names the new
 * one). */
static void
remove_pid(const char *path)
{
    FILE *f = path[0] != '\0' ? fopen(path, "re") : NULL;
    if (f == NULL)
        return;
    long pid = 0;
    int n = fscanf(f, "%ld", &pid);
    fclose(f);
    if (n == 1 && pid == (long)getpid())
        unlink(path);
}

#define NSIGNALS 6

static int
serve(const be_config_t *cfg, char *const argv[])
{
    struct event *sigs[NSIGNALS] = {NULL};
    const int signals[NSIGNALS] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGHUP, SIGUSR2};
    control_t ctl = {.conf_path = cfg->path, .argv = argv};
    int rc = 1;

    if (be_log_open(cfg->error_log_path, cfg->error_log_level) != BE_OK) {
        fprintf(stderr, "blockedge: [emerg] open() \"%s\" failed (%d: %s)\n", cfg->error_log_path,
                errno, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    check_fd_limit(cfg, 0);
    check_secret_mode(cfg, 0);
    check_disk_admission(cfg, 0);
    int upgrading = be_upgrade_child_init();
    int inherited = be_listen_inherit_init();
    if (inherited > 0)
        be_log(BE_LOG_NOTICE, "%d listening sockets inherited%s", inherited,
               upgrading ? " from the process being upgraded" : "");
    be_server_t *srv = be_server_new(cfg, upgrading ? BE_SERVER_UPGRADE : 0);
    if (srv == NULL)
        goto out;
    ctl.base = be_server_base(srv);
    ctl.srv = srv;
    for (int i = 0; i < NSIGNALS; i++) {
        sigs[i] = evsignal_new(ctl.base, signals[i], on_signal, &ctl);
        if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
            goto out;
    }
    if (upgrading) {
        /* The old process serves until this one has its disk index: ask for the disk tier,
         * wait for the load, then accept. */
        be_upgrade_child_wants_disk();
        if (be_server_wait_disk(srv, BE_SERVER_DISK_LOCK_WAIT_MS + 30000) != BE_OK)
            be_log(BE_LOG_WARN, "binary upgrade: serving without a loaded disk index");
    }
    if (be_server_start(srv) != BE_OK || write_pid(cfg->pid_path) != BE_OK)
        goto out;
    be_upgrade_child_ready();
    be_notify_ready();
    event_base_dispatch(ctl.base);
    rc = 0;

out:
    if (srv != NULL)
        be_server_drain(srv, be_server_services(srv)->cfg->shutdown_timeout);
    be_upgrade_free(&ctl.upgrade);
    for (int i = 0; i < NSIGNALS; i++)
        if (sigs[i] != NULL)
            event_free(sigs[i]);
    be_server_free(&srv);
    if (rc == 0)
        remove_pid(cfg->pid_path);
    be_server_global_cleanup();
    if (rc == 0)
        be_log(BE_LOG_NOTICE, "exiting");
    be_log_close();
    return rc;
}

int
main(int argc, char **argv)
{
    const char *conf = BE_DEFAULT_CONF_PATH;
    const char *man = NULL;
    int test = 0, dump = 0, sig = 0, opt;
    opterr = 0;
    while ((opt = getopt(argc, argv, "c:tTvhs:M:")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'T':
            dump = 1;
            break;
        case 'M': /* the manual pages (written at build time) and the README's tables */
            man = optarg;
            if (strcmp(man, "5") != 0 && strcmp(man, "8") != 0 && strcmp(man, "md") != 0) {
                fprintf(stderr, "blockedge: invalid option: \"-M %s\" (5, 8 or md)\n", optarg);
                return 2;
            }
            break;
        case 'v':
            print_versions();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 's':
            for (size_t i = 0; i < BE_ARRAY_LEN(signal_names) && sig == 0; i++)
                if (strcmp(optarg, signal_names[i].name) == 0)
                    sig = signal_names[i].sig;
            if (sig == 0) {
                fprintf(stderr, "blockedge: invalid option: \"-s %s\"\n", optarg);
                usage(stderr);
                return 2;
            }
            break;
        default:
            if (optopt == 's')
                fprintf(stderr, "blockedge: option \"-s\" requires a signal name\n");
            else
                fprintf(stderr, "blockedge: invalid option: \"-%c\"\n", optopt ? optopt : '?');
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "blockedge: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (man != NULL) {
        if (strcmp(man, "5") == 0)
            be_directives_man5(stdout);
        else if (strcmp(man, "8") == 0)
            be_directives_man8(stdout, options, BE_ARRAY_LEN(options));
        else
            be_directives_markdown(stdout);
        return 0;
    }
    if (dump) {
        be_config_dump_directives(stdout);
        return 0;
    }

    static be_config_t cfg;
    char err[2048];
    if (be_config_load(&cfg, conf, err, sizeof(err)) != BE_OK) {
        fprintf(stderr, "blockedge: [emerg] %s\n", err);
        if (test)
            fprintf(stderr, "blockedge: configuration file %s test failed\n", conf);
        return 1;
    }
    if (sig != 0)
        return send_signal(&cfg, sig);
    if (test && (be_log_check_path(cfg.error_log_path, "error_log", err, sizeof(err)) != BE_OK ||
                 be_log_check_path(cfg.access_log, "access_log", err, sizeof(err)) != BE_OK ||
                 be_origin_check(&cfg, err, sizeof(err)) != BE_OK)) {
        fprintf(stderr, "blockedge: [emerg] %s\n", err);
        fprintf(stderr, "blockedge: configuration file %s test failed\n", conf);
        return 1;
    }
    if (test && cfg.disk_path[0] != '\0' &&
        be_diskstore_check_path(cfg.disk_path, err, sizeof(err)) != BE_OK) {
        fprintf(stderr, "blockedge: [emerg] \"disk_path\" is not usable: %s\n", err);
        fprintf(stderr, "blockedge: configuration file %s test failed\n", conf);
        return 1;
    }
    /* The certificate and key are checked here, before the error log takes over, so a
     * mistake reaches the terminal; the server then builds its own context. */
    SSL_CTX *tls_ctx = NULL;
    if (be_tls_wanted(&cfg)) {
        tls_ctx = be_tls_ctx_new(&cfg, err, sizeof(err));
        if (tls_ctx == NULL) {
            fprintf(stderr, "blockedge: [emerg] %s\n", err);
            if (test)
                fprintf(stderr, "blockedge: configuration file %s test failed\n", conf);
            return 1;
        }
        be_tls_ctx_free(&tls_ctx);
    }
    if (test) {
        check_fd_limit(&cfg, 1);
        check_secret_mode(&cfg, 1);
        check_disk_admission(&cfg, 1);
        fprintf(stderr, "blockedge: the configuration file %s syntax is ok\n", conf);
        fprintf(stderr, "blockedge: configuration file %s test is successful\n", conf);
        return 0;
    }
    return serve(&cfg, argv);
}
