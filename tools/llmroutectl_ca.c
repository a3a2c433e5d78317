/*
 * llmroutectl_ca.c - `llmroutectl ca`: the opt-in local certificate
 * authority the shim mints from when interception is on (docs/ca.md).
 *
 *   ca init [--force]   make the CA in its directory (lr_cadir.h)
 *   ca show [--json]    where it is, what it is, who trusts it
 *   ca install          (root) put it in the system store
 *   ca uninstall        (root) take it out again
 *
 * Invariants: the private key is made here and written once, into a file
 * of mode 0600 in a directory of mode 0700, both owned by the user, and is
 * read by nobody but the shim in that user's processes; it is never
 * printed and never goes into the shared table.  A directory that is
 * someone else's, or writable by group or others, is refused before
 * anything is written.  Every file is written to a temporary name and
 * renamed, so an interrupted init leaves the old CA whole.  A file that is
 * replaced keeps the stricter of its mode and the contract's.
 */
#include "llmroutectl.h"
#include "llmroutectl_ca.h"
#include "lr_cadir.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CA_DAYS 825

static const char ca_usage[] =
	"usage: llmroutectl ca init [--force] | show [--json] | install | uninstall\n"
	"  init       make the local CA for TLS interception (llmroute --intercept):\n"
	"             ca.key, ca.pem, bundle.pem, truststore.p12 in its directory\n"
	"             --force: replace an existing CA\n"
	"  show       where it is, its subject, SHA-256 fingerprint and expiry, and\n"
	"             which programs trust it and how; --json: as JSON\n"
	"  install    (root) add ca.pem to the system store (update-ca-certificates)\n"
	"  uninstall  (root) remove it from the system store\n"
	"  directory: $LLMROUTE_CA_DIR, else /etc/llmroute/ca for root, else\n"
	"  ${XDG_DATA_HOME:-$HOME/.local/share}/llmroute/ca\n";

static void ca_dir(char *dir, size_t cap)
{
	if (lr_cadir_path(dir, cap) < 0)
		ctl_die(EX_SYSTEM, "cannot tell where the CA directory is: set LLMROUTE_CA_DIR or HOME");
}

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= cap)
		ctl_die(EX_SYSTEM, "%s: path too long", dir);
}

/* --- what a certificate says ------------------------------------------------ */

typedef struct {
	char subject[256], sha256[96], not_after[32];
	int expired;
} ca_facts;

static void facts_of(X509 *crt, ca_facts *f)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	struct tm tm;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	memset(f, 0, sizeof(*f));
	if (b && X509_NAME_print_ex(b, X509_get_subject_name(crt), 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(b, &p);
		snprintf(f->subject, sizeof(f->subject), "%.*s", (int)len, p);
	}
	BIO_free(b);
	/* AB:CD:..., as `openssl x509 -fingerprint -sha256` prints it */
	if (X509_digest(crt, EVP_sha256(), md, &n))
		for (i = 0; i < n && 3 * i + 2 < sizeof(f->sha256); i++)
			snprintf(f->sha256 + 3 * i, sizeof(f->sha256) - 3 * i, "%02X%s", md[i],
				 i + 1 < n ? ":" : "");
	if (ASN1_TIME_to_tm(X509_get0_notAfter(crt), &tm))
		strftime(f->not_after, sizeof(f->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	f->expired = X509_cmp_current_time(X509_get0_notAfter(crt)) < 0;
}

/* --- making the CA ------------------------------------------------------------ */

static int add_ext(X509 *crt, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, crt, crt, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	ok = X509_add_ext(crt, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

/* "llmroute local CA (user@host)", within X.509's 64 characters. */
static void ca_name(char *cn, size_t cap)
{
	struct passwd *pw = getpwuid(geteuid());
	char host[256] = "localhost", who[300];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (pw && pw->pw_name)
		snprintf(who, sizeof(who), "%s@%s", pw->pw_name, host);
	else
		snprintf(who, sizeof(who), "uid%u@%s", (unsigned)geteuid(), host);
	snprintf(cn, cap, "llmroute local CA (%.44s)", who);
}

static int set_serial(X509 *crt)
{
	unsigned char r[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	r[0] &= 0x7f; /* positive, and at most 16 bytes once encoded */
	r[0] |= 0x40;
	bn = BN_bin2bn(r, sizeof(r), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/* A self-signed CA certificate for key, as docs/ca.md says. */
static X509 *make_cert(EVP_PKEY *key)
{
	X509 *crt = X509_new();
	X509_NAME *name;
	char cn[80];

	ca_name(cn, sizeof(cn));
	if (!crt || !X509_set_version(crt, 2) || set_serial(crt) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(crt), 0) ||
	    !X509_time_adj_ex(X509_getm_notAfter(crt), CA_DAYS, 0, NULL) || !X509_set_pubkey(crt, key))
		goto fail;
	name = X509_get_subject_name(crt);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(crt, name))
		goto fail;
	if (add_ext(crt, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(crt, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(crt, NID_subject_key_identifier, "hash") < 0)
		goto fail;
	if (!X509_sign(crt, key, EVP_sha256()))
		goto fail;
	return crt;
fail:
	X509_free(crt);
	return NULL;
}

/* PEM text of a key or a certificate, in a memory BIO the caller frees. */
static BIO *pem_of(EVP_PKEY *key, X509 *crt)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ok = b && (key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
			   : PEM_write_bio_X509(b, crt));

	if (!ok) {
		BIO_free(b);
		return NULL;
	}
	return b;
}

/* The mode a file gets: the contract's, or the file's own if stricter. */
static mode_t keep_stricter(const char *dir, const char *name, mode_t want)
{
	unsigned have;

	return lr_cadir_file(dir, name, &have) ? (want & have) : want;
}

/* Writes data to dir/.NAME.tmp (mode as keep_stricter says); dies on error. */
static void write_tmp(const char *dir, const char *name, const void *data, size_t len, mode_t want)
{
	char tmp[PATH_MAX], leaf[64];
	mode_t mode = keep_stricter(dir, name, want);
	int fd;

	snprintf(leaf, sizeof(leaf), ".%s.tmp", name);
	path_in(tmp, sizeof(tmp), dir, leaf);
	unlink(tmp); /* a leftover of an init that was killed */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		ctl_die(EX_SYSTEM, "%s: %s", tmp, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ctl_die(EX_SYSTEM, "%s: %s", tmp, strerror(errno));
		data = (const char *)data + n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || close(fd) < 0)
		ctl_die(EX_SYSTEM, "%s: %s", tmp, strerror(errno));
}

static void commit(const char *dir, const char *name)
{
	char tmp[PATH_MAX], dst[PATH_MAX], leaf[64];

	snprintf(leaf, sizeof(leaf), ".%s.tmp", name);
	path_in(tmp, sizeof(tmp), dir, leaf);
	path_in(dst, sizeof(dst), dir, name);
	if (rename(tmp, dst) < 0)
		ctl_die(EX_SYSTEM, "%s: %s", dst, strerror(errno));
}

/* The system bundle (if any) followed by the CA's PEM, in a new buffer. */
static char *bundle_of(const char *pem, size_t pemlen, size_t *len)
{
	FILE *f = fopen(LR_CA_SYSTEM_BUNDLE, "rb");
	size_t cap = pemlen + 2, n = 0, got;
	char *buf = malloc(cap), chunk[65536];

	if (!f)
		fprintf(stderr, "llmroutectl: note: no system bundle %s (%s): bundle.pem holds this CA only\n",
			LR_CA_SYSTEM_BUNDLE, strerror(errno));
	while (buf && f && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *nb = realloc(buf, cap + got);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap += got;
		memcpy(buf + n, chunk, got);
		n += got;
	}
	if (f)
		fclose(f);
	if (!buf)
		ctl_die(EX_SYSTEM, "out of memory");
	if (n && buf[n - 1] != '\n')
		buf[n++] = '\n';
	memcpy(buf + n, pem, pemlen);
	*len = n + pemlen;
	return buf;
}

/* Makes dir (parents 0755, itself 0700) when missing, then checks it. */
static void init_dir(const char *dir)
{
	const char *why = "";
	struct stat st;
	char part[PATH_MAX], *s;
	int rc = lr_cadir_check(dir, 0, &why);

	if (rc == -1 && errno == ENOENT) {
		snprintf(part, sizeof(part), "%s", dir);
		for (s = part + 1; (s = strchr(s, '/')); s++) {
			*s = '\0';
			if (mkdir(part, 0755) < 0 && errno != EEXIST)
				ctl_die(EX_SYSTEM, "%s: %s", part, strerror(errno));
			*s = '/';
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			ctl_die(EX_SYSTEM, "%s: %s", dir, strerror(errno));
		rc = lr_cadir_check(dir, 0, &why);
	}
	if (rc == -1)
		ctl_die(EX_SYSTEM, "%s: %s", dir, strerror(errno));
	if (rc == -2)
		ctl_die(EX_SYSTEM, "%s: %s: refusing to keep a private key there", dir, why);
	/* 0700: readable bits for group and others go; nothing is added */
	if (stat(dir, &st) == 0 && (st.st_mode & 077) && chmod(dir, st.st_mode & 07700) < 0)
		ctl_die(EX_SYSTEM, "%s: %s", dir, strerror(errno));
}

static int exists_any(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	path_in(p, sizeof(p), dir, name);
	return lstat(p, &st) == 0;
}

static void refuse_existing(const char *dir)
{
	char p[PATH_MAX];
	ca_facts f;
	X509 *crt;

	if (!exists_any(dir, LR_CA_KEY) && !exists_any(dir, LR_CA_CERT))
		return;
	path_in(p, sizeof(p), dir, LR_CA_CERT);
	if ((crt = ca_load_cert(p))) {
		facts_of(crt, &f);
		fprintf(stderr, "llmroutectl: %s: %s, SHA-256 %s\n", dir, f.subject, f.sha256);
		X509_free(crt);
	}
	ctl_die(EX_INVALID, "%s already holds a CA: `llmroutectl ca init --force` replaces it "
		"(and every program or store that trusts the old one must be given the new one)", dir);
}

/* truststore.p12 next to the new ca.pem, or none at all (never a stale one). */
static int init_truststore(const char *dir)
{
	char cert[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX];

	path_in(cert, sizeof(cert), dir, "." LR_CA_CERT ".tmp");
	path_in(tmp, sizeof(tmp), dir, "." LR_CA_TRUSTSTORE ".tmp");
	path_in(dst, sizeof(dst), dir, LR_CA_TRUSTSTORE);
	unlink(tmp);
	if (ca_make_truststore(cert, tmp) < 0) {
		if (unlink(dst) == 0)
			fprintf(stderr, "llmroutectl: removed the old %s (it trusted the old CA)\n", dst);
		return -1;
	}
	if (chmod(tmp, keep_stricter(dir, LR_CA_TRUSTSTORE, 0644)) < 0)
		ctl_die(EX_SYSTEM, "%s: %s", tmp, strerror(errno));
	return 0;
}

static void write_ca(const char *dir, EVP_PKEY *key, X509 *crt, ca_facts *f)
{
	BIO *kb = pem_of(key, NULL), *cb = pem_of(NULL, crt);
	char *kp, *cp, *bundle;
	long kl, cl;
	size_t bl;
	int store;

	if (!kb || !cb)
		ctl_die(EX_SYSTEM, "cannot encode the CA: %s", ERR_reason_error_string(ERR_get_error()));
	kl = BIO_get_mem_data(kb, &kp);
	cl = BIO_get_mem_data(cb, &cp);
	write_tmp(dir, LR_CA_KEY, kp, (size_t)kl, 0600);
	write_tmp(dir, LR_CA_CERT, cp, (size_t)cl, 0644);
	bundle = bundle_of(cp, (size_t)cl, &bl);
	write_tmp(dir, LR_CA_BUNDLE, bundle, bl, 0644);
	free(bundle);
	store = init_truststore(dir) == 0;
	/* the key last: a reader that finds a new key finds its certificate */
	commit(dir, LR_CA_BUNDLE);
	if (store)
		commit(dir, LR_CA_TRUSTSTORE);
	commit(dir, LR_CA_CERT);
	commit(dir, LR_CA_KEY);
	BIO_free(kb);
	BIO_free(cb);
	facts_of(crt, f);
	printf("made a local CA in %s\n  subject    %s\n  sha256     %s\n  not after  %s\n"
	       "  files      ca.key, ca.pem, bundle.pem (%s + ca.pem)%s\n", dir, f->subject, f->sha256,
	       f->not_after, LR_CA_SYSTEM_BUNDLE, store ? ", truststore.p12 (Java)" : "");
}

static int ca_init(int force)
{
	char dir[PATH_MAX];
	EVP_PKEY *key;
	X509 *crt;
	ca_facts f;

	umask(077);
	ca_dir(dir, sizeof(dir));
	init_dir(dir);
	if (!force)
		refuse_existing(dir);
	key = EVP_EC_gen("P-256");
	crt = key ? make_cert(key) : NULL;
	if (!crt)
		ctl_die(EX_SYSTEM, "cannot make the CA: %s", ERR_reason_error_string(ERR_get_error()));
	write_ca(dir, key, crt, &f);
	printf("next: `llmroute --intercept CMD` runs CMD with it; `llmroutectl ca install` (root) "
	       "adds it to the system store; `llmroutectl ca show` says who trusts it\n");
	X509_free(crt);
	EVP_PKEY_free(key);
	return EX_DONE;
}

/* --- show ---------------------------------------------------------------------- */

typedef struct {
	char dir[PATH_MAX];
	int have_key, key_ok, key_matches, copy, copy_same, in_bundle, java_hook;
	unsigned mode[4];
	int present[4];
	ca_facts f;
} ca_state;

static const char *const ca_files[4] = {LR_CA_KEY, LR_CA_CERT, LR_CA_BUNDLE, LR_CA_TRUSTSTORE};

static int key_matches(const char *dir, X509 *crt)
{
	char p[PATH_MAX];
	FILE *fp;
	EVP_PKEY *key;
	int ok;

	path_in(p, sizeof(p), dir, LR_CA_KEY);
	if (!(fp = fopen(p, "r")))
		return 0;
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	ok = key && X509_check_private_key(crt, key) == 1;
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ok;
}

static void state_of(ca_state *s, X509 *crt)
{
	const char *why;
	X509 *copy;
	int i;

	for (i = 0; i < 4; i++)
		s->present[i] = lr_cadir_file(s->dir, ca_files[i], &s->mode[i]);
	s->have_key = s->present[0];
	s->key_ok = lr_cadir_key_check(s->dir, &why) == 0;
	s->key_matches = s->key_ok && key_matches(s->dir, crt);
	facts_of(crt, &s->f);
	copy = ca_load_cert(LR_CA_SYSTEM_COPY);
	s->copy = copy != NULL || access(LR_CA_SYSTEM_COPY, F_OK) == 0;
	s->copy_same = copy && X509_cmp(copy, crt) == 0;
	X509_free(copy);
	s->in_bundle = ca_in_bundle(crt, LR_CA_SYSTEM_BUNDLE) == 1;
	s->java_hook = ca_java_hook();
}

/* The ways a program comes to trust the CA: one row per kind of program. */
typedef struct {
	const char *programs, *how;
	int system, launcher;
} trust_row;

static int trust_rows(const ca_state *s, trust_row *r)
{
	int inst = s->copy_same && s->in_bundle;

	r[0] = (trust_row){"OpenSSL, Python, curl, PHP, Ruby",
			   "the system store (`ca install`); SSL_CERT_FILE, REQUESTS_CA_BUNDLE, "
			   "CURL_CA_BUNDLE = bundle.pem (`llmroute --intercept` sets them)",
			   inst, s->present[2]};
	r[1] = (trust_row){"GnuTLS, wget", "the system store only (`ca install`)", inst, inst};
	r[2] = (trust_row){"Node.js", "NODE_EXTRA_CA_CERTS = ca.pem (`llmroute --intercept` sets it)", 0, 1};
	r[3] = (trust_row){"Java",
			   s->java_hook ? "truststore.p12 through JAVA_TOOL_OPTIONS (`llmroute --intercept` "
					  "sets it); or Debian's ca-certificates-java after `ca install`"
					: "truststore.p12 through JAVA_TOOL_OPTIONS (`llmroute --intercept` "
					  "sets it); ca-certificates-java is not installed",
			   inst && s->java_hook, s->present[3]};
	return 4;
}

static const char *store_text(const ca_state *s)
{
	if (s->copy_same && s->in_bundle)
		return "installed (" LR_CA_SYSTEM_COPY ", in " LR_CA_SYSTEM_BUNDLE ")";
	if (s->copy_same)
		return "copied to " LR_CA_SYSTEM_COPY " but not in " LR_CA_SYSTEM_BUNDLE
		       ": run update-ca-certificates";
	if (s->copy)
		return LR_CA_SYSTEM_COPY " holds another certificate (an older CA?): "
		       "`llmroutectl ca install` replaces it";
	if (s->in_bundle)
		return "in " LR_CA_SYSTEM_BUNDLE " but not as " LR_CA_SYSTEM_COPY;
	return "not installed (`llmroutectl ca install`, as root)";
}

static void show_text(const ca_state *s)
{
	trust_row r[4];
	int i, n = trust_rows(s, r);

	printf("CA directory  %s\nsubject       %s\nsha256        %s\nnot after     %s%s\n", s->dir,
	       s->f.subject, s->f.sha256, s->f.not_after, s->f.expired ? " (EXPIRED: ca init --force)" : "");
	printf("private key   %s\n", !s->have_key      ? "MISSING: the shim cannot mint with this CA"
				   : !s->key_ok      ? "UNFIT: not the owner's alone (chmod 600 ca.key)"
				   : !s->key_matches ? "DOES NOT MATCH ca.pem: ca init --force"
						     : "ca.key, the owner's alone, matches ca.pem");
	printf("files        ");
	for (i = 0; i < 4; i++)
		if (s->present[i])
			printf(" %s %04o", ca_files[i], s->mode[i]);
		else
			printf(" %s missing", ca_files[i]);
	printf("\nsystem store  %s\n%-36s%-5s%s\n", store_text(s), "trusted by", "now",
	       "under llmroute --intercept");
	for (i = 0; i < n; i++)
		printf("  %-33s %-4s %-4s %s\n", r[i].programs, r[i].system ? "yes" : "no",
		       r[i].system || r[i].launcher ? "yes" : "no", r[i].how);
}

static void show_json(const ca_state *s)
{
	cJSON *o = cJSON_CreateObject(), *files, *store, *arr, *e;
	trust_row r[4];
	char mode[8], *out;
	int i, n = trust_rows(s, r);

	cJSON_AddStringToObject(o, "dir", s->dir);
	cJSON_AddBoolToObject(o, "exists", 1);
	cJSON_AddStringToObject(o, "subject", s->f.subject);
	cJSON_AddStringToObject(o, "sha256", s->f.sha256);
	cJSON_AddStringToObject(o, "not_after", s->f.not_after);
	cJSON_AddBoolToObject(o, "expired", s->f.expired);
	cJSON_AddBoolToObject(o, "key_ok", s->key_ok && s->key_matches);
	files = cJSON_AddObjectToObject(o, "files");
	for (i = 0; i < 4; i++) {
		snprintf(mode, sizeof(mode), "%04o", s->mode[i]);
		if (s->present[i])
			cJSON_AddStringToObject(files, ca_files[i], mode);
		else
			cJSON_AddNullToObject(files, ca_files[i]);
	}
	store = cJSON_AddObjectToObject(o, "system_store");
	cJSON_AddBoolToObject(store, "installed", s->copy_same && s->in_bundle);
	cJSON_AddStringToObject(store, "file", LR_CA_SYSTEM_COPY);
	cJSON_AddBoolToObject(store, "file_present", s->copy_same);
	cJSON_AddBoolToObject(store, "in_bundle", s->in_bundle);
	arr = cJSON_AddArrayToObject(o, "trust");
	for (i = 0; i < n; i++) {
		cJSON_AddItemToArray(arr, e = cJSON_CreateObject());
		cJSON_AddStringToObject(e, "programs", r[i].programs);
		cJSON_AddBoolToObject(e, "system", r[i].system);
		cJSON_AddBoolToObject(e, "intercept", r[i].system || r[i].launcher);
		cJSON_AddStringToObject(e, "how", r[i].how);
	}
	if (!(out = cJSON_Print(o)))
		ctl_die(EX_SYSTEM, "out of memory");
	puts(out);
	free(out);
	cJSON_Delete(o);
}

static void show_none_json(const char *dir)
{
	cJSON *o = cJSON_CreateObject();
	char *out;

	cJSON_AddStringToObject(o, "dir", dir);
	cJSON_AddBoolToObject(o, "exists", 0);
	if ((out = cJSON_Print(o)))
		puts(out);
	free(out);
	cJSON_Delete(o);
}

static int ca_show(int json)
{
	ca_state s;
	char p[PATH_MAX];
	X509 *crt;

	memset(&s, 0, sizeof(s));
	ca_dir(s.dir, sizeof(s.dir));
	path_in(p, sizeof(p), s.dir, LR_CA_CERT);
	if (!(crt = ca_load_cert(p))) {
		if (json)
			show_none_json(s.dir);
		ctl_die(EX_NOTFOUND, "no CA in %s: make one with `llmroutectl ca init`", s.dir);
	}
	state_of(&s, crt);
	if (json)
		show_json(&s);
	else
		show_text(&s);
	X509_free(crt);
	return EX_DONE;
}

int ctl_ca(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	const char *opt = argc > 2 ? argv[2] : NULL;

	if (argc <= 3 && !strcmp(sub, "init") && (!opt || !strcmp(opt, "--force")))
		return ca_init(opt != NULL);
	if (argc <= 3 && !strcmp(sub, "show") && (!opt || !strcmp(opt, "--json")))
		return ca_show(opt != NULL);
	if (argc == 2 && !strcmp(sub, "install"))
		return ca_install();
	if (argc == 2 && !strcmp(sub, "uninstall"))
		return ca_uninstall();
	fputs(ca_usage, stderr);
	return ctl_is_help(argv[argc - 1]) ? EX_DONE : EX_USAGE;
}
