/*
 * policy_config.c -- the enforcement policy as a `key = value` file
 * (policy_config.h).  Every key is one row of keys[] below (name, type,
 * bounds, default, reloadable, meaning): the row drives parsing, bounds
 * errors, reload and --help.  It never decides anything about a message
 * (policy.c and enforce.c read the struct).
 */
#define _GNU_SOURCE
#include "policy_config.h"
#include "sg_internal.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { K_REAL, K_INT, K_BOOL, K_ACTION, K_ACCOUNT, K_PATH, K_LIST } key_type;

static const struct key {
    const char *name;
    key_type type;
    size_t off;          /* offsetof in sg_policy_config */
    double min, max;     /* bounds of K_REAL / K_INT */
    const char *def;     /* default, as text */
    bool reloadable;
    const char *help;
} keys[] = {
#define O(f) offsetof(sg_policy_config, f)
    {"dry_run", K_BOOL, O(dry_run), 0, 0, "false", true,
     "record every action in the evidence log but enforce none (verdicts say deliver/none)"},
    {"drop_score", K_REAL, O(drop_score), 0, 1, "0.98", true,
     "score (0..1) at or above which a message is dropped"},
    {"hold_score", K_REAL, O(hold_score), 0, 1, "0.90", true,
     "score at or above which a message is held for the operator"},
    {"warn_score", K_REAL, O(warn_score), 0, 1, "0.60", true,
     "score at or above which a message is delivered with a warning"},
    {"spim_score", K_REAL, O(spim_score), 0, 1, "0.60", true,
     "score at or above which a message is labelled spim"},
    {"contact_prior", K_REAL, O(contact_prior), -10, 10, "-1.5", true,
     "log-odds added when the sender is in the recipient's contacts (spim comes from strangers)"},
    {"contact_content_action", K_ACTION, O(contact_content_action), 0, 0, "warn", true,
     "most a message from a contact gets on the text classifier's word alone (no URL or behaviour finding)"},
    {"phishing_action", K_ACTION, O(phishing_action), 0, 0, "hold", true,
     "least message action for label phishing (deliver, warn, hold or drop)"},
    {"blocklisted_action", K_ACTION, O(blocklisted_action), 0, 0, "hold", true,
     "least message action for label blocklisted_url"},
    {"compromised_action", K_ACTION, O(compromised_action), 0, 0, "hold", true,
     "least message action for label compromised_sender"},
    {"lookalike_action", K_ACTION, O(lookalike_action), 0, 0, "warn", true,
     "least message action for label lookalike_url"},
    {"max_account_action", K_ACCOUNT, O(max_account_action), 0, 0, "suspend", true,
     "highest account action taken automatically (none, throttle, lock_and_reset or suspend)"},
    {"suspend_hours", K_REAL, O(suspend_hours), 0, 87600, "0", true,
     "length of a suspension in hours; 0 = until an operator decides"},
    {"allow_accounts", K_LIST, O(allow_accounts), 0, 0, "", true,
     "accounts never actioned, comma separated (messages at most warned)"},
    {"allow_domains", K_LIST, O(allow_domains), 0, 0, "", true,
     "account domains (part after @, with subdomains) never actioned"},
    {"allow_accounts_file", K_PATH, O(allow_accounts_file), 0, 0, "", true,
     "file of more allowlisted accounts, one per line (reread on reload)"},
    {"record_message_actions", K_BOOL, O(record_message_actions), 0, 0, "true", true,
     "also log held/dropped messages labelled phishing, blocklisted_url or compromised_sender"},
    {"evidence_dir", K_PATH, O(evidence_dir), 0, 0, "", false,
     "evidence log directory (default: the engine option, DATA_DIR/evidence)"},
    {"evidence_key", K_PATH, O(evidence_key), 0, 0, "", false,
     "Ed25519 secret key file (default: EVIDENCE_DIR/signing.key, made if missing)"},
    {"checkpoint_every", K_INT, O(checkpoint_every), 1, 10000000, "1000", false,
     "entries between signed checkpoints"},
    {"checkpoint_minutes", K_REAL, O(checkpoint_minutes), 0.001, 525600, "60", false,
     "or minutes (of entry time) between signed checkpoints"},
    {"evidence_sync", K_BOOL, O(evidence_sync), 0, 0, "false", false,
     "fdatasync after every entry (default: at checkpoints and close)"},
    {"reporter_penalty", K_REAL, O(reporter_penalty), 0, 1, "0.5", true,
     "trust multiplier for a reporter whose spam report an operator cleared"},
#undef O
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* A K_LIST field is followed by its count (set_key, swap_key rely on it). */
_Static_assert(offsetof(sg_policy_config, nallow_accounts) ==
                   offsetof(sg_policy_config, allow_accounts) + sizeof(char **),
               "allow_accounts must be followed by its count");
_Static_assert(offsetof(sg_policy_config, nallow_domains) ==
                   offsetof(sg_policy_config, allow_domains) + sizeof(char **),
               "allow_domains must be followed by its count");

static const struct key *find_key(const char *name) {
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name)) return &keys[i];
    return NULL;
}

#define AT(c, k, T) ((T *)((char *)(c) + (k)->off))

/* ------------------------------------------------------------ values */

static int parse_enum(const char *v, const char *(*name)(int), int n) {
    for (int i = 0; i < n; i++)
        if (!strcasecmp(v, name(i))) return i;
    return -1;
}
static const char *action_name(int i) { return sg_action_name((sg_action)i); }
static const char *account_name(int i) { return sg_account_action_name((sg_account_action)i); }

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) sg__free(v[i]);
    sg__free(v);
}

/* Split "a, b c" into a list (comma and/or space separated). */
static int parse_list(const char *v, char ***out, size_t *n) {
    char **list = NULL;
    size_t cnt = 0;
    while (*v) {
        size_t skip = strspn(v, ", \t"), len;
        v += skip;
        len = strcspn(v, ", \t");
        if (!len) break;
        char **nl = sg__realloc(list, (cnt + 1) * sizeof *nl);
        char *item = nl ? sg__strndup(v, len) : NULL;
        if (!item) {
            free_list(nl ? nl : list, cnt);
            return SG_ENOMEM;
        }
        list = nl;
        list[cnt++] = item;
        v += len;
    }
    *out = list;
    *n = cnt;
    return SG_OK;
}

static int set_number(sg_policy_config *c, const struct key *k, const char *v,
                      char *err, size_t el) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    while (*end && isspace((unsigned char)*end)) end++;
    if (errno || end == v || *end || x != x) {
        snprintf(err, el, "%s: \"%s\" is not a number", k->name, v);
        return SG_EINVAL;
    }
    if (k->type == K_INT && x != (double)(long)x) {
        snprintf(err, el, "%s: \"%s\" is not a whole number", k->name, v);
        return SG_EINVAL;
    }
    if (x < k->min || x > k->max) {
        snprintf(err, el, "%s: %s is outside %g..%g", k->name, v, k->min, k->max);
        return SG_EINVAL;
    }
    if (k->type == K_INT) *AT(c, k, long) = (long)x;
    else *AT(c, k, double) = x;
    return SG_OK;
}

static int set_choice(sg_policy_config *c, const struct key *k, const char *v,
                      char *err, size_t el) {
    int i;
    if (k->type == K_BOOL) {
        bool t = !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
                 !strcasecmp(v, "on");
        bool f = !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
                 !strcasecmp(v, "off");
        if (!t && !f) {
            snprintf(err, el, "%s: \"%s\" is not true or false", k->name, v);
            return SG_EINVAL;
        }
        *AT(c, k, bool) = t;
        return SG_OK;
    }
    bool acct = k->type == K_ACCOUNT;
    i = parse_enum(v, acct ? account_name : action_name, 4);
    if (i < 0) {
        snprintf(err, el, "%s: \"%s\" is not one of %s", k->name, v,
                 acct ? "none, throttle, lock_and_reset, suspend" : "deliver, warn, hold, drop");
        return SG_EINVAL;
    }
    if (acct) *AT(c, k, sg_account_action) = (sg_account_action)i;
    else *AT(c, k, sg_action) = (sg_action)i;
    return SG_OK;
}

static int set_key(sg_policy_config *c, const struct key *k, const char *v, char *err,
                   size_t el) {
    switch (k->type) {
    case K_REAL: case K_INT: return set_number(c, k, v, err, el);
    case K_BOOL: case K_ACTION: case K_ACCOUNT: return set_choice(c, k, v, err, el);
    case K_PATH: { /* "" is the static empty string, never owned */
        char *d = *v ? sg__strdup(v) : (char *)"";
        if (!d) { snprintf(err, el, "out of memory"); return SG_ENOMEM; }
        if (**AT(c, k, char *)) sg__free(*AT(c, k, char *));
        *AT(c, k, char *) = d;
        return SG_OK;
    }
    case K_LIST: {
        char **list;
        size_t n;
        if (parse_list(v, &list, &n)) { snprintf(err, el, "out of memory"); return SG_ENOMEM; }
        size_t *cnt = (size_t *)(AT(c, k, char **) + 1); /* the count follows the list */
        free_list(*AT(c, k, char **), *cnt);
        *AT(c, k, char **) = list;
        *cnt = n;
        return SG_OK;
    }
    }
    return SG_EINVAL;
}

int sg__policy_config_set(sg_policy_config *c, const char *key, const char *value,
                          char *err, size_t errlen) {
    const struct key *k = key ? find_key(key) : NULL;
    if (!k || !value) {
        snprintf(err, errlen, "unknown key \"%s\"", key ? key : "");
        return SG_EINVAL;
    }
    return set_key(c, k, value, err, errlen);
}

/* ------------------------------------------------------------ lifetime */

void sg__policy_config_default(sg_policy_config *c) {
    char err[128];
    memset(c, 0, sizeof *c);
    c->evidence_dir = c->evidence_key = c->allow_accounts_file = (char *)"";
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type != K_PATH && keys[i].type != K_LIST)
            sg_assert(set_key(c, &keys[i], keys[i].def, err, sizeof err) == SG_OK);
    snprintf(c->version, sizeof c->version, "policy:default");
}

void sg__policy_config_free(sg_policy_config *c) {
    if (!c) return;
    free_list(c->allow_accounts, c->nallow_accounts);
    free_list(c->allow_domains, c->nallow_domains);
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == K_PATH && **AT(c, &keys[i], char *)) sg__free(*AT(c, &keys[i], char *));
    sg__policy_config_default(c);
}

/* ------------------------------------------------------------ files */

/* Trim spaces and one pair of quotes, in place. */
static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

static int load_line(sg_policy_config *c, char *line, const char *path, size_t no,
                     char *err, size_t el) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *s = trim(line);
    if (!*s) return SG_OK;
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, el, "%s:%zu: expected key = value", path, no);
        return SG_EINVAL;
    }
    *eq = '\0';
    char why[256];
    int rc = sg__policy_config_set(c, trim(s), trim(eq + 1), why, sizeof why);
    if (rc) snprintf(err, el, "%s:%zu: %s", path, no, why);
    return rc;
}

static int check_ladder(const sg_policy_config *c, const char *path, char *err, size_t el) {
    if (c->drop_score >= c->hold_score && c->hold_score >= c->warn_score) return SG_OK;
    snprintf(err, el, "%s: the ladder must satisfy drop_score >= hold_score >= warn_score "
             "(%g, %g, %g)", path, c->drop_score, c->hold_score, c->warn_score);
    return SG_EINVAL;
}

/* Add the ids of allow_accounts_file (one per line, # comments). */
static int load_allow_file(sg_policy_config *c, char *err, size_t el) {
    if (!*c->allow_accounts_file) return SG_OK;
    FILE *f = fopen(c->allow_accounts_file, "r");
    if (!f) {
        snprintf(err, el, "allow_accounts_file %s: %s", c->allow_accounts_file, strerror(errno));
        return SG_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = SG_OK;
    while (!rc && getline(&line, &cap, f) > 0) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (!*s) continue;
        char **nl = sg__realloc(c->allow_accounts, (c->nallow_accounts + 1) * sizeof *nl);
        if (nl) c->allow_accounts = nl;
        char *d = nl ? sg__strdup(s) : NULL;
        if (!d) rc = SG_ENOMEM;
        else c->allow_accounts[c->nallow_accounts++] = d;
    }
    free(line);
    fclose(f);
    if (rc) snprintf(err, el, "out of memory");
    return rc;
}

/* "policy:" + 16 hex digits of BLAKE2b-256 of the file's bytes. */
static void version_of(FILE *f, char *out, size_t cap) {
    crypto_generichash_state st;
    unsigned char h[32], buf[4096];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    size_t n;
    rewind(f);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_generichash_update(&st, buf, n);
    crypto_generichash_final(&st, h, sizeof h);
    int o = snprintf(out, cap, "policy:");
    for (int i = 0; i < 8 && (size_t)o + 2 < cap; i++) o += snprintf(out + o, cap - (size_t)o, "%02x", h[i]);
}

int sg__policy_config_load(sg_policy_config *c, const char *path, char *err, size_t errlen) {
    sg__policy_config_free(c);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SG_EIO;
    }
    char *line = NULL;
    size_t cap = 0, no = 0;
    int rc = SG_OK;
    while (!rc && getline(&line, &cap, f) > 0) rc = load_line(c, line, path, ++no, err, errlen);
    free(line);
    if (!rc) rc = check_ladder(c, path, err, errlen);
    if (!rc) rc = load_allow_file(c, err, errlen);
    if (!rc && sodium_init() >= 0) version_of(f, c->version, sizeof c->version);
    fclose(f);
    if (rc) sg__policy_config_free(c);
    return rc;
}

/* ------------------------------------------------------------ reload */

static bool same_value(const sg_policy_config *a, const sg_policy_config *b, const struct key *k) {
    switch (k->type) {
    case K_REAL: return *AT(a, k, double) == *AT(b, k, double);
    case K_INT: return *AT(a, k, long) == *AT(b, k, long);
    case K_BOOL: return *AT(a, k, bool) == *AT(b, k, bool);
    case K_ACTION: return *AT(a, k, sg_action) == *AT(b, k, sg_action);
    case K_ACCOUNT: return *AT(a, k, sg_account_action) == *AT(b, k, sg_account_action);
    case K_PATH: return !strcmp(*AT(a, k, char *), *AT(b, k, char *));
    case K_LIST: return true; /* lists are all reloadable */
    }
    return true;
}

/* Swap the bytes of key k between a and b (lists move with their count). */
static void swap_key(sg_policy_config *a, sg_policy_config *b, const struct key *k) {
    size_t size = k->type == K_REAL ? sizeof(double) : k->type == K_INT ? sizeof(long)
                  : k->type == K_BOOL ? sizeof(bool) : k->type == K_ACTION ? sizeof(sg_action)
                  : k->type == K_ACCOUNT ? sizeof(sg_account_action) : k->type == K_PATH ? sizeof(char *)
                  : sizeof(char **) + sizeof(size_t);
    unsigned char tmp[sizeof(char **) + sizeof(size_t)];
    memcpy(tmp, (char *)a + k->off, size);
    memcpy((char *)a + k->off, (char *)b + k->off, size);
    memcpy((char *)b + k->off, tmp, size);
}

int sg__policy_config_apply_reload(sg_policy_config *dst, sg_policy_config *src,
                                   char *changed, size_t cap) {
    size_t used = 0;
    if (cap) changed[0] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        if (k->reloadable) swap_key(dst, src, k);
        else if (!same_value(dst, src, k) && used + strlen(k->name) + 3 < cap)
            used += (size_t)snprintf(changed + used, cap - used, "%s%s", used ? ", " : "", k->name);
    }
    memcpy(dst->version, src->version, sizeof dst->version);
    sg__policy_config_free(src);
    return SG_OK;
}

/* ------------------------------------------------------------ allowlists */

/* Domain of an account id: after the last '@', up to a '/' (resource). */
static const char *account_domain(const char *id, size_t *len) {
    const char *at = strrchr(id, '@');
    if (!at) return NULL;
    at++;
    *len = strcspn(at, "/");
    return at;
}

static bool domain_matches(const char *d, size_t n, const char *allowed) {
    size_t m = strlen(allowed);
    if (n == m) return !strncasecmp(d, allowed, n);
    return n > m && d[n - m - 1] == '.' && !strncasecmp(d + n - m, allowed, m);
}

bool sg__policy_allowlisted(const sg_policy_config *c, const char *account) {
    if (!c || !account) return false;
    size_t bare = strcspn(account, "/");
    for (size_t i = 0; i < c->nallow_accounts; i++)
        if (strlen(c->allow_accounts[i]) == bare &&
            !strncasecmp(account, c->allow_accounts[i], bare))
            return true;
    size_t dl;
    const char *d = account_domain(account, &dl);
    for (size_t i = 0; d && i < c->nallow_domains; i++)
        if (domain_matches(d, dl, c->allow_domains[i])) return true;
    return false;
}

/* ------------------------------------------------------------ help */

void sg__policy_config_help(FILE *f, bool markdown) {
    if (markdown) fprintf(f, "| key | default | reload | meaning |\n| --- | --- | --- | --- |\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        if (markdown)
            fprintf(f, "| `%s` | `%s` | %s | %s |\n", k->name, *k->def ? k->def : "\"\"",
                    k->reloadable ? "yes" : "no", k->help);
        else
            fprintf(f, "  %-22s %c %-8s %s\n", k->name, k->reloadable ? '*' : ' ',
                    *k->def ? k->def : "\"\"", k->help);
    }
}
