/*
 * llmroutectl_ca_sys.c - the local CA and the rest of the system: Java's
 * trust store made with keytool, and the system store (Debian's
 * ca-certificates: /usr/local/share/ca-certificates and
 * update-ca-certificates) for `ca install` and `ca uninstall`.
 *
 * Programs are run with fork and execv on a path found here (no shell);
 * only the public certificate ever leaves the CA directory.
 */
#include "llmroutectl.h"
#include "llmroutectl_ca.h"
#include "lr_cadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define JAVA_CACERTS "/etc/ssl/certs/java/cacerts"
#define JAVA_HOOK HOOKS_DIR "/jks-keystore"
#define CA_ALIAS "llmroute-local-ca"
#define HOOKS_DIR "/etc/ca-certificates/update.d"
#define SYSTEM_LINK "/etc/ssl/certs/llmroute.pem"

static void dump(FILE *f)
{
	char buf[4096];
	size_t n;

	rewind(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
}

int ca_run(char *const argv[], int quiet, const char *input)
{
	FILE *out = quiet ? tmpfile() : NULL;
	int in[2] = {-1, -1};
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	if ((input && pipe2(in, O_CLOEXEC) < 0) || (pid = fork()) < 0) {
		if (out)
			fclose(out);
		return -1;
	}
	if (pid == 0) {
		if (out) {
			dup2(fileno(out), 1);
			dup2(fileno(out), 2);
		}
		if (input)
			dup2(in[0], 0);
		execv(argv[0], argv);
		_exit(127);
	}
	if (input) {
		close(in[0]);
		if (write(in[1], input, strlen(input)) < 0)
			fprintf(stderr, "llmroutectl: %s: %s\n", argv[0], strerror(errno));
		close(in[1]);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (out) {
		if (st != 0)
			dump(out);
		fclose(out);
	}
	return st;
}

static int find_in(const char *dirs, const char *name, char *out, size_t cap)
{
	const char *p = dirs, *end;

	while (p && *p) {
		end = strchr(p, ':');
		if (!end)
			end = p + strlen(p);
		if (end > p) {
			int n = snprintf(out, cap, "%.*s/%s", (int)(end - p), p, name);
			if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0)
				return 0;
		}
		p = *end ? end + 1 : end;
	}
	return -1;
}

int ca_find_prog(const char *name, const char *extra, char *out, size_t cap)
{
	const char *path = getenv("PATH");

	if (find_in(path ? path : "/usr/local/bin:/usr/bin:/bin", name, out, cap) == 0)
		return 0;
	return extra ? find_in(extra, name, out, cap) : -1;
}

X509 *ca_load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *crt;

	if (!f)
		return NULL;
	crt = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	return crt;
}

int ca_in_bundle(X509 *crt, const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *c;
	int found = 0;

	if (!f)
		return -1;
	while (!found && (c = PEM_read_X509(f, NULL, NULL, NULL))) {
		found = X509_cmp(c, crt) == 0;
		X509_free(c);
	}
	fclose(f);
	ERR_clear_error();
	return found;
}

int ca_java_hook(void)
{
	return access(JAVA_HOOK, X_OK) == 0;
}

/* The Java trust store keytool's JDK ships: Debian's (ca-certificates-java)
 * or the JDK's own lib/security/cacerts. */
static int java_cacerts(const char *keytool, char *out, size_t cap)
{
	char real[PATH_MAX], *s;
	int n;

	if (access(JAVA_CACERTS, R_OK) == 0)
		return snprintf(out, cap, "%s", JAVA_CACERTS) > 0 ? 0 : -1;
	if (!realpath(keytool, real) || !(s = strrchr(real, '/')))
		return -1;
	*s = '\0'; /* .../bin */
	n = snprintf(out, cap, "%s/../lib/security/cacerts", real);
	return n > 0 && (size_t)n < cap && access(out, R_OK) == 0 ? 0 : -1;
}

int ca_make_truststore(const char *certfile, const char *out)
{
	char keytool[PATH_MAX], src[PATH_MAX];
	char *copy[] = {keytool, "-importkeystore", "-noprompt", "-srckeystore", src, "-srcstorepass",
			LR_CA_STOREPASS, "-destkeystore", (char *)out, "-deststoretype", "PKCS12",
			"-deststorepass", LR_CA_STOREPASS, NULL};
	char *add[] = {keytool, "-importcert", "-noprompt", "-alias", CA_ALIAS, "-file", (char *)certfile,
		       "-keystore", (char *)out, "-storetype", "PKCS12", "-storepass", LR_CA_STOREPASS, NULL};

	if (ca_find_prog("keytool", NULL, keytool, sizeof(keytool)) < 0) {
		fprintf(stderr, "llmroutectl: note: keytool not found: no truststore.p12, so Java will not "
				"trust the CA under `llmroute --intercept` (install default-jre-headless, "
				"then `ca init --force`)\n");
		return -1;
	}
	if (java_cacerts(keytool, src, sizeof(src)) < 0) {
		fprintf(stderr, "llmroutectl: note: no Java trust store (%s, or the JDK's lib/security/cacerts) "
				"to start from: no truststore.p12\n", JAVA_CACERTS);
		return -1;
	}
	if (ca_run(copy, 1, NULL) != 0 || ca_run(add, 1, NULL) != 0) {
		unlink(out);
		fprintf(stderr, "llmroutectl: note: %s failed (above): no truststore.p12\n", keytool);
		return -1;
	}
	return 0;
}

/* --- the system store -------------------------------------------------------- */

static void need_root(const char *verb)
{
	if (geteuid() != 0)
		ctl_die(EX_SYSTEM, "ca %s changes the system store: run it as root", verb);
}

/* update-ca-certificates; fresh: --fresh, which also clears the links in
 * /etc/ssl/certs that a removed certificate leaves dangling. */
static void update_store(int fresh)
{
	char prog[PATH_MAX];
	char *argv[] = {prog, fresh ? "--fresh" : NULL, NULL};
	int rc;

	if (ca_find_prog("update-ca-certificates", "/usr/local/sbin:/usr/sbin:/sbin", prog, sizeof(prog)) < 0)
		ctl_die(EX_SYSTEM, "update-ca-certificates not found (Debian's ca-certificates package)");
	if ((rc = ca_run(argv, 0, NULL)) != 0)
		ctl_die(EX_SYSTEM, "%s failed (exit %d)", prog, rc);
}

/* update-ca-certificates tells its hooks (ca-certificates-java's among
 * them) "+LINK" for a certificate it links anew, and nothing at all for a
 * local certificate that is gone: the hooks are told "-LINK" here, as
 * run-parts would run them (names of letters, digits, '_' and '-', in
 * order). */
static void hooks_removed(void)
{
	struct dirent **ent;
	char path[PATH_MAX];
	char *argv[] = {path, NULL};
	int i, n = scandir(HOOKS_DIR, &ent, NULL, alphasort);

	for (i = 0; i < n; i++) {
		const char *name = ent[i]->d_name;
		struct stat st;
		if (name[strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")] == '\0' &&
		    snprintf(path, sizeof(path), "%s/%s", HOOKS_DIR, name) < (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0 &&
		    ca_run(argv, 0, "-" SYSTEM_LINK "\n") != 0)
			fprintf(stderr, "llmroutectl: %s failed\n", path);
		free(ent[i]);
	}
	if (n >= 0)
		free(ent);
}

/* The link update-ca-certificates made for our copy: removed before an
 * install, so that it is made again and the hooks hear of the new one. */
static void drop_link(void)
{
	char target[PATH_MAX];
	ssize_t n = readlink(SYSTEM_LINK, target, sizeof(target) - 1);

	if (n > 0) {
		target[n] = '\0';
		if (!strcmp(target, LR_CA_SYSTEM_COPY))
			unlink(SYSTEM_LINK);
	}
}

/* The CA certificate of the CA directory, for root: the directory may be
 * another user's (named by LLMROUTE_CA_DIR), but not one others can write. */
static X509 *install_cert(char *dir, size_t cap)
{
	char p[PATH_MAX];
	const char *why = "";
	struct stat st;
	struct passwd *pw;
	X509 *crt;
	int rc;

	if (lr_cadir_path(dir, cap) < 0)
		ctl_die(EX_SYSTEM, "cannot tell where the CA directory is: set LLMROUTE_CA_DIR");
	if ((rc = lr_cadir_check(dir, 1, &why)) == -2)
		ctl_die(EX_SYSTEM, "%s: %s: refusing its certificate", dir, why);
	rc = rc == 0 && snprintf(p, sizeof(p), "%s/" LR_CA_CERT, dir) < (int)sizeof(p) ? 0 : -1;
	if (rc == -1 || !(crt = ca_load_cert(p)))
		ctl_die(EX_NOTFOUND, "no CA in %s: make one with `llmroutectl ca init`", dir);
	if (X509_check_ca(crt) < 1)
		ctl_die(EX_INVALID, "%s is not a CA certificate", p);
	if (stat(dir, &st) == 0 && st.st_uid != 0) {
		pw = getpwuid(st.st_uid);
		fprintf(stderr, "llmroutectl: warning: this CA's key belongs to %s (uid %u): once it is in the "
				"system store, that user can impersonate any site to every program on this "
				"machine\n", pw ? pw->pw_name : "another user", (unsigned)st.st_uid);
	}
	return crt;
}

static void write_copy(X509 *crt)
{
	const char *tmp = LR_CA_SYSTEM_COPY ".tmp";
	FILE *f;
	int fd;

	if (mkdir("/usr/local/share/ca-certificates", 0755) < 0 && errno != EEXIST)
		ctl_die(EX_SYSTEM, "/usr/local/share/ca-certificates: %s", strerror(errno));
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		ctl_die(EX_SYSTEM, "%s: %s", tmp, strerror(errno));
	if (!PEM_write_X509(f, crt) || fchmod(fd, 0644) < 0 || fclose(f) != 0 || rename(tmp, LR_CA_SYSTEM_COPY) < 0)
		ctl_die(EX_SYSTEM, "%s: %s", LR_CA_SYSTEM_COPY, strerror(errno));
}

int ca_install(void)
{
	char dir[PATH_MAX];
	X509 *crt;

	need_root("install");
	crt = install_cert(dir, sizeof(dir));
	write_copy(crt);
	drop_link();
	update_store(0);
	if (ca_in_bundle(crt, LR_CA_SYSTEM_BUNDLE) != 1)
		ctl_die(EX_SYSTEM, "update-ca-certificates ran, but the CA is not in %s", LR_CA_SYSTEM_BUNDLE);
	printf("installed %s/" LR_CA_CERT " as %s; it is in %s: OpenSSL, Python, curl, wget, GnuTLS, PHP "
	       "and Ruby trust it\n", dir, LR_CA_SYSTEM_COPY, LR_CA_SYSTEM_BUNDLE);
	if (ca_java_hook())
		printf("Java: Debian's ca-certificates-java was told to add it to %s (its hook ran)\n", JAVA_CACERTS);
	else
		printf("Java: not covered by the system store here: install ca-certificates-java and run "
		       "`ca install` again, or run Java under `llmroute --intercept` (truststore.p12)\n");
	printf("Node.js: does not read the system store: NODE_EXTRA_CA_CERTS=%s/" LR_CA_CERT
	       " (`llmroute --intercept` sets it)\n", dir);
	X509_free(crt);
	return EX_DONE;
}

int ca_uninstall(void)
{
	X509 *crt;

	need_root("uninstall");
	if (access(LR_CA_SYSTEM_COPY, F_OK) < 0) {
		printf("not installed: no %s\n", LR_CA_SYSTEM_COPY);
		return EX_DONE;
	}
	crt = ca_load_cert(LR_CA_SYSTEM_COPY);
	if (unlink(LR_CA_SYSTEM_COPY) < 0)
		ctl_die(EX_SYSTEM, "%s: %s", LR_CA_SYSTEM_COPY, strerror(errno));
	update_store(1);
	hooks_removed();
	if (crt && ca_in_bundle(crt, LR_CA_SYSTEM_BUNDLE) == 1)
		ctl_die(EX_SYSTEM, "update-ca-certificates ran, but the CA is still in %s", LR_CA_SYSTEM_BUNDLE);
	printf("removed %s; it is no longer in %s\n", LR_CA_SYSTEM_COPY, LR_CA_SYSTEM_BUNDLE);
	if (ca_java_hook())
		printf("Java: Debian's ca-certificates-java was told to drop it from %s (its hook was "
		       "given -%s)\n", JAVA_CACERTS, SYSTEM_LINK);
	printf("the CA itself stays in its directory (`llmroutectl ca show`); delete that directory to "
	       "remove it for good\n");
	X509_free(crt);
	return EX_DONE;
}
