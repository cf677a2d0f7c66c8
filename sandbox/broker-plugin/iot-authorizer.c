/*
 * A Mosquitto 2 plugin that asks the sandbox, over a Unix socket, what AWS IoT would decide: whether a
 * connection may connect, publish, subscribe and receive. It holds no rule of its own. Who a connection is
 * comes from the certificate it presented (its ID: the SHA-256 of its DER encoding, as AWS IoT's certificate
 * IDs are), never from its subject; the sandbox's registry and IoT policy evaluator decide
 * (sandbox/broker-authorizer.ts).
 *
 * It also carries the requests of AWS IoT's own MQTT APIs that the sandbox serves (fleet provisioning:
 * `$aws/certificates/...`, `$aws/provisioning-templates/...`) to the sandbox with who sent them, and delivers
 * each answer to the requesting connection alone, as AWS IoT answers "through the same MQTT connection used
 * to publish the API request" ("Device provisioning MQTT API"). Over MQTT 3.1.1 a publish the policy refuses
 * closes the connection, as AWS IoT does (MQTT 5 gets PUBACK 0x87).
 *
 * CONNECT is asked; for the rest it asks once per connection what the connection's policies grant it, resolved
 * for that connection by the sandbox's evaluator (sandbox/iot-policy.ts grantsOf: statements, actions and
 * resource globs with the policy variables put in), and decides PUBLISH, SUBSCRIBE and each delivery itself
 * with the evaluator's matcher (globMatches: `*`, `?`, a backslash makes the next character literal; an
 * explicit Deny wins): no round trip per message, which at thousands of devices stalled the broker.
 *
 * Wire format, one line each way (fields hex-encoded where they may hold any byte):
 *   ask:     C <certificate id> <MQTT protocol version> <client id hex|-> -\n
 *   answer:  A1 <grants, as below>\n (allowed, with what the connection may do) or A0\n (denied)
 *   grants:  G <certificate id> <MQTT protocol version> <client id hex|-> -\n
 *   answer:  A1 <ARN prefix hex> <effect A|D><op P|S|R><resource glob hex> ...\n, or A0\n (nothing granted)
 *   request: Q <certificate id> <client id hex> <session> <topic hex> <payload hex|->\n (no answer)
 *   pushed:  F\n (a policy changed: forget every cached answer), F <certificate id>\n (that certificate changed: forget
 *            its answers and grants), K <certificate id>\n (disconnect its clients),
 *            P <client id hex> <certificate id> <session> <topic hex> <payload hex|->\n (deliver to that client only, and
 *            only while the connection that asked still holds the client ID),
 *            T <certificate id> <client id hex> <answer>\n (told ahead: the answer to a CONNECT of that certificate with
 *            that client ID, one of its things, over MQTT 3.1.1 or 5; a CONNECT it covers needs no round trip)
 * Answers are cached until the next F: the same question has the same answer until the registry changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define BUCKETS 65536
#define ID_LENGTH 64

struct entry {
	struct entry *next;
	char allowed;
	char key[];
};

struct grant {
	char effect;
	char op;
	char *resource;
};

/* A connection's grants, by certificate, protocol version and client ID, until the registry changes. */
struct grants {
	struct grants *next;
	int count;
	struct grant *items;
	char *prefix;
	char key[];
};

static mosquitto_plugin_id_t *plugin_id;
static int decider = -1;
static struct entry *cache[BUCKETS];
static struct grants *grants_cache[BUCKETS];

/* What the sandbox told ahead of time: the answer to CONNECT as each of a certificate's things, with its grants. */
struct told {
	struct told *next;
	char *answer;
	char key[];
};
static struct told *told_cache[BUCKETS];

/* The connection that holds each client ID now: its certificate and a number no earlier connection had. */
struct session {
	struct session *next;
	unsigned long number;
	char certificate_id[ID_LENGTH + 1];
	char client_id[];
};
static struct session *sessions[BUCKETS];
static unsigned long session_count;
static char *last_answer;
static char pending[1 << 20];
static size_t pending_length;
static char *kicks[1024];
static int kick_count;
static char *client_kicks[1024];
static int client_kick_count;

struct delivery {
	struct delivery *next;
	char certificate_id[ID_LENGTH + 1];
	unsigned long session;
	char *client_id;
	char *topic;
	unsigned char *payload;
	size_t payload_length;
};
static struct delivery *deliveries, **deliveries_tail = &deliveries;

/* The API requests the sandbox serves: AWS IoT's reserved topics of fleet provisioning. */
static int is_api_request(const char *topic)
{
	return !strncmp(topic, "$aws/certificates/", 18) || !strncmp(topic, "$aws/provisioning-templates/", 28);
}

static unsigned long hash(const char *text)
{
	unsigned long value = 2166136261u;
	for(; *text; text++) value = (value ^ (unsigned char)*text) * 16777619u;
	return value % BUCKETS;
}

/* Frees a grants entry and what it holds. */
static void free_grants(struct grants *g)
{
	for(int n = 0; n < g->count; n++) free(g->items[n].resource);
	free(g->items);
	free(g->prefix);
	free(g);
}

static void free_told(struct told *t)
{
	free(t->answer);
	free(t);
}

static void forget_all(void);

/* The certificates anything is cached for: forgetting one that is not (a fleet device being registered) costs nothing. */
struct known {
	struct known *next;
	char id[ID_LENGTH + 1];
};
static struct known *known_certificates[BUCKETS];

static void know(const char *certificate_id)
{
	char id[ID_LENGTH + 1];
	snprintf(id, sizeof(id), "%.*s", ID_LENGTH, certificate_id);
	unsigned long bucket = hash(id);
	for(struct known *k = known_certificates[bucket]; k; k = k->next){
		if(!strcmp(k->id, id)) return;
	}
	struct known *k = malloc(sizeof(struct known));
	if(!k){
		/* Unable to remember what to forget: forget everything now rather than keep what could go stale. */
		forget_all();
		return;
	}
	strcpy(k->id, id);
	k->next = known_certificates[bucket];
	known_certificates[bucket] = k;
}

/* Whether anything is cached for the certificate; forgets that it was. */
static int unknow(const char *certificate_id)
{
	for(struct known **link = &known_certificates[hash(certificate_id)]; *link; link = &(*link)->next){
		if(!strcmp((*link)->id, certificate_id)){
			struct known *k = *link;
			*link = k->next;
			free(k);
			return 1;
		}
	}
	return 0;
}

/* Forgets the cached answers and grants of one certificate (their keys are "<op> <certificate id> ..."). */
static void forget_certificate(const char *certificate_id)
{
	if(strlen(certificate_id) != ID_LENGTH || !unknow(certificate_id)) return;
	size_t length = strlen(certificate_id);
	for(int i = 0; i < BUCKETS; i++){
		for(struct entry **link = &cache[i]; *link;){
			struct entry *e = *link;
			if(!strncmp(e->key + 2, certificate_id, length) && e->key[2 + length] == ' '){
				*link = e->next;
				free(e);
			}else{
				link = &e->next;
			}
		}
		for(struct told **link = &told_cache[i]; *link;){
			struct told *t = *link;
			if(!strncmp(t->key, certificate_id, length) && t->key[length] == ' '){
				*link = t->next;
				free_told(t);
			}else{
				link = &t->next;
			}
		}
		for(struct grants **link = &grants_cache[i]; *link;){
			struct grants *g = *link;
			if(!strncmp(g->key + 2, certificate_id, length) && g->key[2 + length] == ' '){
				*link = g->next;
				free_grants(g);
			}else{
				link = &g->next;
			}
		}
	}
}

static void forget_all(void)
{
	for(int i = 0; i < BUCKETS; i++){
		struct entry *e = cache[i];
		while(e){
			struct entry *next = e->next;
			free(e);
			e = next;
		}
		cache[i] = NULL;
		struct grants *g = grants_cache[i];
		while(g){
			struct grants *next = g->next;
			free_grants(g);
			g = next;
		}
		grants_cache[i] = NULL;
		struct told *t = told_cache[i];
		while(t){
			struct told *next = t->next;
			free_told(t);
			t = next;
		}
		told_cache[i] = NULL;
		struct known *k = known_certificates[i];
		while(k){
			struct known *next = k->next;
			free(k);
			k = next;
		}
		known_certificates[i] = NULL;
	}
}

/* Keeps a pushed "T <certificate id> <client id hex> <answer>". */
static void remember_told(const char *fields)
{
	const char *client = strchr(fields, ' ');
	const char *answer = client ? strchr(client + 1, ' ') : NULL;
	if(!answer) return;
	size_t key_length = (size_t)(answer - fields);
	struct told *t = malloc(sizeof(struct told) + key_length + 1);
	if(!t) return;
	memcpy(t->key, fields, key_length);
	t->key[key_length] = '\0';
	t->answer = strdup(answer + 1);
	if(!t->answer){
		free(t);
		return;
	}
	unsigned long bucket = hash(t->key);
	t->next = told_cache[bucket];
	told_cache[bucket] = t;
	know(t->key);
}

/* The told answer for a certificate and client ID, or NULL. */
static const char *told_answer(const char *certificate_id, const char *client_hex)
{
	char key[1200];
	if(snprintf(key, sizeof(key), "%s %s", certificate_id, client_hex) >= (int)sizeof(key)) return NULL;
	for(struct told *t = told_cache[hash(key)]; t; t = t->next){
		if(!strcmp(t->key, key)) return t->answer;
	}
	return NULL;
}

static void hex(const char *text, char *out, size_t room)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 0;
	if(!text){
		snprintf(out, room, "-");
		return;
	}
	for(; *text && n + 3 < room; text++){
		out[n++] = digits[((unsigned char)*text) >> 4];
		out[n++] = digits[((unsigned char)*text) & 15];
	}
	out[n] = '\0';
}

static int nibble(char c)
{
	if(c >= '0' && c <= '9') return c - '0';
	if(c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* Decodes `length` hex digits into a new buffer (NUL-terminated); NULL when they are not hex. "-" is empty. */
static unsigned char *unhex(const char *text, size_t length, size_t *out_length)
{
	if(length == 1 && text[0] == '-') length = 0;
	if(length % 2) return NULL;
	unsigned char *out = malloc(length / 2 + 1);
	if(!out) return NULL;
	for(size_t i = 0; i < length / 2; i++){
		int high = nibble(text[2 * i]), low = nibble(text[2 * i + 1]);
		if(high < 0 || low < 0){
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(high * 16 + low);
	}
	out[length / 2] = '\0';
	*out_length = length / 2;
	return out;
}

static struct session *session_of(const char *client_id)
{
	for(struct session *v = sessions[hash(client_id)]; v; v = v->next){
		if(!strcmp(v->client_id, client_id)) return v;
	}
	return NULL;
}

/* A connection accepted: it holds its client ID from now on (AWS IoT disconnects the one that held it). */
static void begin_session(const char *client_id, const char *certificate_id)
{
	if(!client_id) return;
	struct session *v = session_of(client_id);
	if(!v){
		v = calloc(1, sizeof(struct session) + strlen(client_id) + 1);
		if(!v) return;
		strcpy(v->client_id, client_id);
		unsigned long bucket = hash(client_id);
		v->next = sessions[bucket];
		sessions[bucket] = v;
	}
	v->number = ++session_count;
	snprintf(v->certificate_id, sizeof(v->certificate_id), "%s", certificate_id);
}

/* Queues a pushed "P <client hex> <topic hex> <payload hex>" for the next tick. */
static void queue_delivery(const char *fields)
{
	/* "<client hex> <certificate id> <session> <topic hex> <payload hex>" */
	const char *certificate = strchr(fields, ' ');
	const char *number = certificate ? strchr(certificate + 1, ' ') : NULL;
	const char *topic = number ? strchr(number + 1, ' ') : NULL;
	const char *payload = topic ? strchr(topic + 1, ' ') : NULL;
	if(!payload || number - certificate - 1 != ID_LENGTH) return;
	struct delivery *d = calloc(1, sizeof(struct delivery));
	size_t ignored;
	if(!d) return;
	memcpy(d->certificate_id, certificate + 1, ID_LENGTH);
	d->session = strtoul(number + 1, NULL, 10);
	d->client_id = (char *)unhex(fields, (size_t)(certificate - fields), &ignored);
	d->topic = (char *)unhex(topic + 1, (size_t)(payload - topic - 1), &ignored);
	d->payload = unhex(payload + 1, strlen(payload + 1), &d->payload_length);
	if(!d->client_id || !d->topic || !d->payload){
		free(d->client_id); free(d->topic); free(d->payload); free(d);
		return;
	}
	*deliveries_tail = d;
	deliveries_tail = &d->next;
}

/* Acts on one pushed line; returns 1 for an answer (*allowed set), 0 otherwise. */
static int take_line(const char *line, int *allowed)
{
	if(line[0] == 'A'){
		*allowed = line[1] == '1';
		free(last_answer);
		last_answer = strdup(line);
		return 1;
	}
	if(line[0] == 'F' && line[1] == ' ') forget_certificate(line + 2);
	else if(line[0] == 'F') forget_all();
	if(line[0] == 'K' && line[1] == ' ' && kick_count < 1024) kicks[kick_count++] = strdup(line + 2);
	if(line[0] == 'P' && line[1] == ' ') queue_delivery(line + 2);
	if(line[0] == 'T' && line[1] == ' ') remember_told(line + 2);
	return 0;
}

/* Reads what has arrived; with `wait`, blocks until an answer. Returns the answer, or -1 when the sandbox is gone. */
static int read_lines(int wait)
{
	int allowed = -1;
	for(;;){
		char *newline;
		while((newline = memchr(pending, '\n', pending_length))){
			*newline = '\0';
			int is_answer = take_line(pending, &allowed);
			size_t used = (size_t)(newline - pending) + 1;
			memmove(pending, newline + 1, pending_length - used);
			pending_length -= used;
			if(is_answer) return allowed;
		}
		ssize_t got = recv(decider, pending + pending_length, sizeof(pending) - pending_length, wait ? 0 : MSG_DONTWAIT);
		if(got > 0){
			pending_length += (size_t)got;
			continue;
		}
		if(got < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
		if(got < 0 && errno == EINTR) continue;
		mosquitto_log_printf(MOSQ_LOG_ERR, "iot-authorizer: the sandbox's decider is gone; refusing everything");
		close(decider);
		decider = -1;
		return -1;
	}
}

static int send_all(const char *line, size_t length)
{
	for(size_t sent = 0; sent < length;){
		ssize_t n = send(decider, line + sent, length - sent, MSG_NOSIGNAL);
		if(n < 0 && errno == EINTR) continue;
		if(n <= 0) return 0;
		sent += (size_t)n;
	}
	return 1;
}

/* The cached answer to whether the certificate may CONNECT with the client ID, or the sandbox's. */
static int ask_connect(const char *certificate_id, int version, const char *client_id)
{
	char client_hex[1024];
	static char line[2048];
	read_lines(0);
	if(decider < 0) return 0;
	hex(client_id, client_hex, sizeof(client_hex));
	int length = snprintf(line, sizeof(line), "C %s %d %s -\n", certificate_id, version, client_hex);
	if(length < 0 || (size_t)length >= sizeof(line)) return 0;
	unsigned long bucket = hash(line);
	for(struct entry *e = cache[bucket]; e; e = e->next){
		if(!strcmp(e->key, line)) return e->allowed;
	}
	if(!send_all(line, (size_t)length)) return 0;
	int allowed = read_lines(1);
	if(allowed < 0) return 0;
	struct entry *e = malloc(sizeof(struct entry) + (size_t)length + 1);
	know(certificate_id);
	if(e){
		e->allowed = (char)allowed;
		memcpy(e->key, line, (size_t)length + 1);
		e->next = cache[bucket];
		cache[bucket] = e;
	}
	return allowed;
}

/* globMatches of sandbox/iot-policy.ts: `*` any characters, `?` one, a backslash makes the next character literal. */
static int glob_matches(const char *p, const char *t)
{
	const char *star_p = NULL, *star_t = NULL;
	while(*t){
		if(p[0] == '\\' && p[1]){
			if(p[1] == *t){ p += 2; t++; continue; }
		}else if(*p == '?'){
			p++; t++; continue;
		}else if(*p == '*'){
			star_p = ++p; star_t = t; continue;
		}else if(*p == *t){
			p++; t++; continue;
		}
		if(!star_p) return 0;
		p = star_p;
		t = ++star_t;
	}
	while(*p == '*') p++;
	return *p == '\0';
}

/* Parses "A1 <prefix hex> <E><O><hex> ..." into a grants entry for `key`; NULL when nothing is granted. */
static struct grants *parse_grants(const char *answer, const char *key)
{
	if(!answer || strncmp(answer, "A1 ", 3)) return NULL;
	struct grants *g = calloc(1, sizeof(struct grants) + strlen(key) + 1);
	if(!g) return NULL;
	strcpy(g->key, key);
	const char *cursor = answer + 3;
	const char *end = strchr(cursor, ' ');
	size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
	size_t ignored;
	g->prefix = (char *)unhex(cursor, length, &ignored);
	int room = 0, failed = !g->prefix;
	while(end && !failed){
		cursor = end + 1;
		end = strchr(cursor, ' ');
		length = end ? (size_t)(end - cursor) : strlen(cursor);
		if(g->count == room){
			room = room ? 2 * room : 8;
			struct grant *grown = realloc(g->items, (size_t)room * sizeof(struct grant));
			if(!grown){ failed = 1; break; }
			g->items = grown;
		}
		struct grant *item = &g->items[g->count];
		item->effect = cursor[0];
		item->op = length >= 2 ? cursor[1] : 0;
		item->resource = length >= 2 ? (char *)unhex(cursor + 2, length - 2, &ignored) : NULL;
		if(!item->resource){ failed = 1; break; }
		g->count++;
	}
	/* Any grant not read (a Deny among them, perhaps): none is kept, and the caller denies. */
	if(failed){
		free_grants(g);
		return NULL;
	}
	return g;
}

/* The key (and G question) of a connection's grants. */
static int grants_key(char *line, size_t room, const char *certificate_id, int version, const char *client_id)
{
	char client_hex[1024];
	hex(client_id, client_hex, sizeof(client_hex));
	int length = snprintf(line, room, "G %s %d %s -\n", certificate_id, version, client_hex);
	return length < 0 || (size_t)length >= room ? -1 : length;
}

/* The connection's grants if they are cached already. */
static struct grants *grants_of_cached(const char *certificate_id, int version, const char *client_id)
{
	char line[2048];
	if(grants_key(line, sizeof(line), certificate_id, version, client_id) < 0) return NULL;
	for(struct grants *g = grants_cache[hash(line)]; g; g = g->next){
		if(!strcmp(g->key, line)) return g;
	}
	return NULL;
}

/* Keeps the grants a CONNECT's answer carried. */
static void remember_grants(const char *certificate_id, int version, const char *client_id, const char *answer)
{
	char line[2048];
	if(grants_key(line, sizeof(line), certificate_id, version, client_id) < 0) return;
	struct grants *g = parse_grants(answer, line);
	if(!g) return;
	unsigned long bucket = hash(line);
	g->next = grants_cache[bucket];
	grants_cache[bucket] = g;
	know(certificate_id);
}

/* The connection's grants, asked for once until the registry changes. */
static struct grants *grants_of(const char *certificate_id, int version, const char *client_id)
{
	static char line[2048];
	if(decider < 0) return NULL;
	int length = grants_key(line, sizeof(line), certificate_id, version, client_id);
	if(length < 0) return NULL;
	unsigned long bucket = hash(line);
	/* Cached: no system call on the path of every message; what the sandbox pushed is read at the next tick or CONNECT. */
	for(struct grants *g = grants_cache[bucket]; g; g = g->next){
		if(!strcmp(g->key, line)) return g;
	}
	read_lines(0);
	for(struct grants *g = grants_cache[bucket]; g; g = g->next){
		if(!strcmp(g->key, line)) return g;
	}
	if(!send_all(line, (size_t)length)) return NULL;
	if(read_lines(1) < 0) return NULL;
	struct grants *g = parse_grants(last_answer, line);
	if(!g){
		/* Nothing granted: remembered as an empty entry. */
		g = calloc(1, sizeof(struct grants) + (size_t)length + 1);
		if(!g) return NULL;
		strcpy(g->key, line);
		g->prefix = strdup("");
	}
	g->next = grants_cache[bucket];
	grants_cache[bucket] = g;
	know(certificate_id);
	return g;
}

/* An explicit Deny wins, then any Allow; nothing else is allowed. */
static int granted(const struct grants *g, char op, const char *topic)
{
	if(!g || !g->count || !topic) return 0;
	const char *type = op == 'S' ? "topicfilter/" : "topic/";
	size_t length = strlen(g->prefix) + strlen(type) + strlen(topic) + 1;
	char *arn = malloc(length);
	if(!arn) return 0;
	snprintf(arn, length, "%s%s%s", g->prefix, type, topic);
	int allowed = 0;
	for(int i = 0; i < g->count; i++){
		if(g->items[i].op != op || !glob_matches(g->items[i].resource, arn)) continue;
		if(g->items[i].effect == 'D'){
			allowed = 0;
			break;
		}
		allowed = 1;
	}
	free(arn);
	return allowed;
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *auth = event_data;
	(void)event; (void)userdata;
	X509 *certificate = mosquitto_client_certificate(auth->client);
	if(!certificate) return MOSQ_ERR_AUTH;
	unsigned char *der = NULL, digest[EVP_MAX_MD_SIZE];
	unsigned int digest_length = 0;
	int der_length = i2d_X509(certificate, &der);
	X509_free(certificate);
	if(der_length <= 0) return MOSQ_ERR_AUTH;
	EVP_Digest(der, (size_t)der_length, digest, &digest_length, EVP_sha256(), NULL);
	OPENSSL_free(der);
	char id[ID_LENGTH + 1];
	for(unsigned int i = 0; i < digest_length && 2 * i < ID_LENGTH; i++) sprintf(id + 2 * i, "%02x", digest[i]);
	id[ID_LENGTH] = '\0';
	/* The certificate ID stands for the connection from now on: ACL checks and kicks find it as the username. */
	if(mosquitto_set_username(auth->client, id) != MOSQ_ERR_SUCCESS) return MOSQ_ERR_AUTH;
	int version = mosquitto_client_protocol_version(auth->client);
	const char *client_id = mosquitto_client_id(auth->client);
	/* AWS IoT's client IDs are at most 128 bytes ("AWS IoT Core endpoints and quotas"); longer ones would be cut short here. */
	if(client_id && strlen(client_id) > 128) return MOSQ_ERR_AUTH;
	/* Told ahead of time for MQTT 3.1.1 and 5 (the sandbox refuses other versions when asked): no round trip. */
	char client_hex[1024];
	read_lines(0);
	hex(client_id, client_hex, sizeof(client_hex));
	const char *told = version == 4 || version == 5 ? told_answer(id, client_hex) : NULL;
	if(told){
		if(strncmp(told, "A1", 2)) return MOSQ_ERR_AUTH;
		if(!grants_of_cached(id, version, client_id)) remember_grants(id, version, client_id, told);
		begin_session(client_id, id);
		return MOSQ_ERR_SUCCESS;
	}
	free(last_answer);
	last_answer = NULL;
	if(!ask_connect(id, version, client_id)) return MOSQ_ERR_AUTH;
	/* An allowed CONNECT is answered with the connection's grants too: one round trip per connection, not two. */
	if(last_answer && !strncmp(last_answer, "A1 ", 3)) remember_grants(id, version, client_id, last_answer);
	begin_session(client_id, id);
	return MOSQ_ERR_SUCCESS;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *check = event_data;
	(void)event; (void)userdata;
	const char *id = mosquitto_client_username(check->client);
	if(!id || strlen(id) != ID_LENGTH) return MOSQ_ERR_ACL_DENIED;
	char op;
	switch(check->access){
		case MOSQ_ACL_WRITE: op = 'P'; break;
		case MOSQ_ACL_READ: op = 'R'; break;
		case MOSQ_ACL_SUBSCRIBE: op = 'S'; break;
		case MOSQ_ACL_UNSUBSCRIBE: return MOSQ_ERR_SUCCESS;
		default: return MOSQ_ERR_ACL_DENIED;
	}
	int version = mosquitto_client_protocol_version(check->client);
	if(granted(grants_of(id, version, mosquitto_client_id(check->client)), op, check->topic)) return MOSQ_ERR_SUCCESS;
	/* MQTT 3.1.1 has no PUBACK reason code: AWS IoT closes the connection of a refused publish. */
	if(op == 'P' && version == 4 && client_kick_count < 1024) client_kicks[client_kick_count++] = strdup(mosquitto_client_id(check->client));
	return MOSQ_ERR_ACL_DENIED;
}

/* A request of an API the sandbox serves: to the sandbox, with the certificate and client ID it came from. */
static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *message = event_data;
	(void)event; (void)userdata;
	const char *id = mosquitto_client_username(message->client);
	if(decider < 0 || !message->topic || !is_api_request(message->topic) || !id || strlen(id) != ID_LENGTH) return MOSQ_ERR_SUCCESS;
	const char *client_id = mosquitto_client_id(message->client);
	size_t room = 2 * (strlen(client_id) + strlen(message->topic) + message->payloadlen) + ID_LENGTH + 40;
	char *line = malloc(room);
	if(!line) return MOSQ_ERR_NOMEM;
	struct session *v = session_of(client_id);
	if(!v || strcmp(v->certificate_id, id)){
		free(line);
		return MOSQ_ERR_SUCCESS;
	}
	size_t n = (size_t)snprintf(line, room, "Q %s ", id);
	hex(client_id, line + n, room - n);
	n += strlen(line + n);
	n += (size_t)snprintf(line + n, room - n, " %lu ", v->number);
	hex(message->topic, line + n, room - n);
	n += strlen(line + n);
	line[n++] = ' ';
	static const char digits[] = "0123456789abcdef";
	if(message->payloadlen == 0) line[n++] = '-';
	for(uint32_t i = 0; i < message->payloadlen; i++){
		unsigned char byte = ((const unsigned char *)message->payload)[i];
		line[n++] = digits[byte >> 4];
		line[n++] = digits[byte & 15];
	}
	line[n++] = '\n';
	send_all(line, n);
	free(line);
	return MOSQ_ERR_SUCCESS;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	(void)event; (void)event_data; (void)userdata;
	if(decider >= 0) read_lines(0);
	for(int i = 0; i < kick_count; i++){
		mosquitto_kick_client_by_username(kicks[i], false);
		free(kicks[i]);
	}
	kick_count = 0;
	for(int i = 0; i < client_kick_count; i++){
		if(client_kicks[i]) mosquitto_kick_client_by_clientid(client_kicks[i], false);
		free(client_kicks[i]);
	}
	client_kick_count = 0;
	while(deliveries){
		struct delivery *d = deliveries;
		deliveries = d->next;
		/* To the connection that asked alone: a later one with its client ID (another device, or someone who took it
		 * over to read the answer) gets nothing; on AWS the answer is lost with the connection. Mosquitto may not
		 * check the receiver's ACL for a message a plugin addresses to one client: this check is the one that holds. */
		struct session *v = session_of(d->client_id);
		if(v && v->number == d->session && !strcmp(v->certificate_id, d->certificate_id)){
			mosquitto_broker_publish_copy(d->client_id, d->topic, (int)d->payload_length, d->payload, 1, false, NULL);
		}
		free(d->client_id); free(d->topic); free(d->payload); free(d);
	}
	deliveries_tail = &deliveries;
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options, int option_count)
{
	const char *path = NULL;
	(void)userdata;
	for(int i = 0; i < option_count; i++){
		if(!strcmp(options[i].key, "socket")) path = options[i].value;
	}
	if(!path){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iot-authorizer: plugin_opt_socket is required");
		return MOSQ_ERR_INVAL;
	}
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if(strlen(path) >= sizeof(address.sun_path)) return MOSQ_ERR_INVAL;
	strcpy(address.sun_path, path);
	decider = socket(AF_UNIX, SOCK_STREAM, 0);
	if(decider < 0 || connect(decider, (struct sockaddr *)&address, sizeof(address)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "iot-authorizer: cannot reach the sandbox's decider at %s: %s", path, strerror(errno));
		return MOSQ_ERR_UNKNOWN;
	}
	plugin_id = identifier;
	if(mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL)
			|| mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL)
			|| mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL)
			|| mosquitto_callback_register(plugin_id, MOSQ_EVT_TICK, on_tick, NULL, NULL)){
		return MOSQ_ERR_UNKNOWN;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata; (void)options; (void)option_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_TICK, on_tick, NULL);
	forget_all();
	if(decider >= 0) close(decider);
	decider = -1;
	return MOSQ_ERR_SUCCESS;
}
