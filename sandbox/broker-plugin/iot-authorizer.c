/*
 * A Mosquitto 2 plugin that asks the sandbox, over a Unix socket, what AWS IoT would decide: whether a
 * connection may connect, publish, subscribe and receive. It holds no rule of its own. Who a connection is
 * comes from the certificate it presented (its ID: the SHA-256 of its DER encoding, as AWS IoT's certificate
 * IDs are), never from its subject; the sandbox's registry and IoT policy evaluator decide
 * (sandbox/broker-authorizer.ts).
 *
 * Wire format, one line each way (fields hex-encoded where they may hold any byte):
 *   ask:    <op> <certificate id> <MQTT protocol version> <client id hex|-> <topic hex|->\n   (op: C P S R)
 *   answer: A1\n (allowed) or A0\n (denied)
 *   pushed: F\n (the registry changed: forget every cached answer), K <certificate id>\n (disconnect its clients)
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

static mosquitto_plugin_id_t *plugin_id;
static int decider = -1;
static struct entry *cache[BUCKETS];
static char pending[1 << 16];
static size_t pending_length;
static char *kicks[1024];
static int kick_count;

static unsigned long hash(const char *text)
{
	unsigned long value = 2166136261u;
	for(; *text; text++) value = (value ^ (unsigned char)*text) * 16777619u;
	return value % BUCKETS;
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
	}
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

/* Acts on one pushed line; returns 1 for an answer (*allowed set), 0 otherwise. */
static int take_line(const char *line, int *allowed)
{
	if(line[0] == 'A'){
		*allowed = line[1] == '1';
		return 1;
	}
	if(line[0] == 'F') forget_all();
	if(line[0] == 'K' && line[1] == ' ' && kick_count < 1024) kicks[kick_count++] = strdup(line + 2);
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

/* The cached answer to the question, or the sandbox's. */
static int ask(char op, const char *certificate_id, int version, const char *client_id, const char *topic)
{
	char client_hex[1024], topic_hex[131072];
	static char line[133000];
	read_lines(0);
	if(decider < 0) return 0;
	hex(client_id, client_hex, sizeof(client_hex));
	hex(topic, topic_hex, sizeof(topic_hex));
	int length = snprintf(line, sizeof(line), "%c %s %d %s %s\n", op, certificate_id, version, client_hex, topic_hex);
	if(length < 0 || (size_t)length >= sizeof(line)) return 0;
	unsigned long bucket = hash(line);
	for(struct entry *e = cache[bucket]; e; e = e->next){
		if(!strcmp(e->key, line)) return e->allowed;
	}
	for(int sent = 0; sent < length;){
		ssize_t n = send(decider, line + sent, (size_t)(length - sent), MSG_NOSIGNAL);
		if(n < 0 && errno == EINTR) continue;
		if(n <= 0) return 0;
		sent += (int)n;
	}
	int allowed = read_lines(1);
	if(allowed < 0) return 0;
	struct entry *e = malloc(sizeof(struct entry) + (size_t)length + 1);
	if(e){
		e->allowed = (char)allowed;
		memcpy(e->key, line, (size_t)length + 1);
		e->next = cache[bucket];
		cache[bucket] = e;
	}
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
	return ask('C', id, version, mosquitto_client_id(auth->client), NULL) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_AUTH;
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
	return ask(op, id, version, mosquitto_client_id(check->client), check->topic) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
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
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_TICK, on_tick, NULL);
	forget_all();
	if(decider >= 0) close(decider);
	decider = -1;
	return MOSQ_ERR_SUCCESS;
}
