/* runner/registry-push.c — pushing an image from the store: every blob HEADed first, mounted
 * from another repository of the registry when one is known to hold it, else uploaded as
 * POST + one streamed PATCH + PUT ?digest= (always to the newest Location); the manifest
 * last, so a failed push never leaves a tag pointing at missing blobs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/hash.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "runner/registry-internal.h"

void registry_opts_init(struct registry_opts *o, const char *data_dir)
{
	memset(o, 0, sizeof(*o));
	o->data_dir = data_dir;
}

struct push_blob {
	const char *digest; /* borrowed from the image */
	int64_t size;
};

struct push {
	struct image_store *st;
	struct reg_client *c;
	const struct registry_opts *o;
	struct reg_progress *pr;
	struct push_blob *blobs;
	size_t n;
	atomic_uint uploaded, mounted, present;
};

/* HEAD blobs/<d>: 1 present, 0 absent. */
static int blob_present(struct reg_client *c, CURL *h, const char *digest, struct error **err)
{
	char path[512];
	struct reg_req rq = {.method = "HEAD", .url = path, .fd = -1};
	struct reg_resp rs;
	int rc;

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", c->repo, digest);
	if (reg_do(c, h, &rq, &rs, err) < 0)
		return -1;
	if (rs.status == 200)
		rc = 1;
	else if (rs.status == 404)
		rc = 0;
	else
		rc = reg_status_error(c, &rs, "check blob", err);
	reg_resp_release(&rs);
	return rc;
}

/* The next URL of an upload: Location may be relative; digest (optional) is appended. */
static char *upload_url(struct reg_client *c, const char *loc, const char *digest)
{
	char *s = NULL;
	const char *sep = strchr(loc, '?') ? "&" : "?";

	if (asprintf(&s, "%s%s%s%s%s", loc[0] == '/' ? c->base : "", loc, digest ? sep : "",
		     digest ? "digest=" : "", digest ? digest : "") < 0)
		return NULL;
	return s;
}

/* POST uploads/ (with a mount when from is set): 1 mounted, 0 with *loc the upload URL. */
static int upload_start(struct reg_client *c, CURL *h, const char *digest, const char *from,
			char **loc, struct error **err)
{
	char path[1024], scope[512];
	struct reg_req rq = {.method = "POST", .url = path, .fd = -1};
	struct reg_resp rs;
	int rc;

	if (from) {
		snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?mount=%s&from=%s", c->repo,
			 digest, from);
		snprintf(scope, sizeof(scope), "repository:%s:pull", from);
		rq.scope = scope;
	} else {
		snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", c->repo);
	}
	if (reg_do(c, h, &rq, &rs, err) < 0)
		return -1;
	if (from && rs.status == 201) {
		rc = 1;
	} else if (rs.status == 202 && rs.location) {
		*loc = upload_url(c, rs.location, NULL);
		rc = *loc ? 0 : error_errno(err, "upload");
	} else {
		rc = reg_status_error(c, &rs, "start blob upload", err);
	}
	reg_resp_release(&rs);
	return rc;
}

/* One upload attempt: PATCH the whole blob, then PUT ?digest= to the newest Location.
 * Returns 0, -1; *transient tells whether trying again may help. */
static int upload_once(struct push *p, CURL *h, const char *digest, int fd, int64_t size, char *loc,
		       struct reg_slot *slot, bool *transient, struct error **err)
{
	struct reg_client *c = p->c;
	struct reg_req rq = {.method = "PATCH",
			     .url = loc,
			     .fd = fd,
			     .size = size,
			     .content_type = "application/octet-stream",
			     .once = true,
			     .slot = slot};
	struct reg_resp rs;
	cleanup_free char *put = NULL;
	int rc;

	*transient = false;
	rc = reg_do(c, h, &rq, &rs, err);
	*transient = rs.transient;
	if (rc == 0 && rs.status != 202)
		rc = reg_status_error(c, &rs, "upload blob", err);
	if (rc == 0)
		put = upload_url(c, rs.location ? rs.location : loc, digest);
	reg_resp_release(&rs);
	if (rc < 0)
		return -1;
	if (!put)
		return error_errno(err, "upload");
	rq = (struct reg_req){.method = "PUT",
			      .url = put,
			      .fd = -1,
			      .content_type = "application/octet-stream",
			      .once = true};
	rc = reg_do(c, h, &rq, &rs, err);
	*transient = rs.transient;
	if (rc == 0 && rs.status != 201 && rs.status != 204)
		rc = reg_status_error(c, &rs, "finish blob upload", err);
	if (rc == 0 && rs.digest && strcmp(rs.digest, digest))
		rc = error_failed(err, "registry '%s' stored blob '%s' as '%s'", c->host, digest,
				  rs.digest);
	reg_resp_release(&rs);
	return rc;
}

static int push_one(void *ctx, size_t i, CURL *h, struct error **err)
{
	struct push *p = ctx;
	struct reg_client *c = p->c;
	const struct push_blob *b = &p->blobs[i];
	struct reg_slot *slot = reg_progress_slot(p->pr, b->digest, b->size);
	cleanup_free char *from = NULL;
	cleanup_close int fd = -1;
	uint64_t start = reg_now_ms(), delay = 250;
	int64_t size = 0;
	int rc;

	rc = blob_present(c, h, b->digest, err);
	if (rc != 0) {
		if (rc > 0) {
			atomic_fetch_add(&p->present, 1);
			reg_slot_done(slot, "exists");
		}
		return rc < 0 ? error_wrap(err, "blob '%s'", b->digest) : 0;
	}
	from = reg_seen_find(p->o->data_dir, c->host, c->repo, b->digest);
	if (image_blob_open(p->st, b->digest, &fd, &size, err) < 0)
		return -1;
	for (;;) {
		cleanup_free char *loc = NULL;
		bool transient = false;
		struct error *e = NULL;

		rc = upload_start(c, h, b->digest, from, &loc, err);
		if (rc > 0) {
			atomic_fetch_add(&p->mounted, 1);
			reg_slot_done(slot, "mounted");
			return 0;
		}
		if (rc < 0)
			return error_wrap(err, "blob '%s'", b->digest);
		/* A refused mount (202) is an ordinary upload from here on; don't ask again. */
		free(from);
		from = NULL;
		if (upload_once(p, h, b->digest, fd, size, loc, slot, &transient, &e) == 0)
			break;
		if (!transient || atomic_load(&c->cancel) ||
		    reg_now_ms() + delay > start + c->retry_ms) {
			error_wrap(&e, "blob '%s'", b->digest);
			*err = e;
			return -1;
		}
		log_debug("blob '%s': %s; starting the upload again", b->digest, e->msg);
		error_free(e);
		usleep((useconds_t)(delay * 1000));
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	atomic_fetch_add(&p->uploaded, 1);
	reg_slot_done(slot, "pushed");
	return 0;
}

/* --- manifests --------------------------------------------------------------------------- */

static const char *convert_type(const char *mt, bool docker)
{
	static const char *const pairs[][2] = {
	    {MT_OCI_MANIFEST, MT_DOCKER_MANIFEST},     {MT_OCI_CONFIG, MT_DOCKER_CONFIG},
	    {MT_OCI_LAYER_GZIP, MT_DOCKER_LAYER_GZIP}, {MT_OCI_LAYER_ZSTD, MT_DOCKER_LAYER_ZSTD},
	    {MT_OCI_LAYER, MT_DOCKER_LAYER},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (!strcmp(mt, pairs[i][0]) || !strcmp(mt, pairs[i][1]))
			return pairs[i][docker ? 1 : 0];
	return mt;
}

/* The manifest to send: the stored bytes when their media type is the one wanted (the
 * digest stays), else a copy with every media type converted. Caller frees *out. */
static int manifest_for_push(const struct image *img, const char *stored, size_t len, bool docker,
			     char **out, size_t *outlen, const char **mt, struct error **err)
{
	const char *want = docker ? MT_DOCKER_MANIFEST : MT_OCI_MANIFEST;
	const char *have = json_get_str(img->manifest, "mediaType", MT_OCI_MANIFEST);
	json_auto_t *m = NULL;
	json_t *cfg, *l;
	size_t i;

	*mt = want;
	if (!strcmp(have, want)) {
		*out = malloc(len + 1);
		if (!*out)
			return error_errno(err, "manifest");
		memcpy(*out, stored, len);
		*outlen = len;
		return 0;
	}
	m = json_deep_copy(img->manifest);
	if (!m)
		return error_errno(err, "manifest");
	json_object_set_new(m, "mediaType", json_string(want));
	cfg = json_get_obj(m, "config");
	if (cfg)
		json_object_set_new(cfg, "mediaType",
				    json_string(convert_type(
					json_get_str(cfg, "mediaType", MT_OCI_CONFIG), docker)));
	json_array_foreach (json_get_array(m, "layers"), i, l) {
		json_object_set_new(
		    l, "mediaType",
		    json_string(convert_type(json_get_str(l, "mediaType", ""), docker)));
	}
	*out = json_dumps(m, JSON_COMPACT);
	if (!*out)
		return error_errno(err, "manifest");
	*outlen = strlen(*out);
	return 0;
}

static int put_manifest(struct reg_client *c, CURL *h, const char *ref, const char *body,
			size_t len, const char *mt, const char *digest, struct error **err)
{
	char path[1024];
	struct reg_req rq = {
	    .method = "PUT", .url = path, .fd = -1, .data = body, .len = len, .content_type = mt};
	struct reg_resp rs;
	int rc;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", c->repo, ref);
	if (reg_do(c, h, &rq, &rs, err) < 0)
		return -1;
	rc = rs.status == 201 || rs.status == 200 ? 0
						  : reg_status_error(c, &rs, "put manifest", err);
	if (rc == 0 && rs.digest && strcmp(rs.digest, digest))
		rc = error_failed(err, "registry '%s' stored the manifest as '%s', not '%s'",
				  c->host, rs.digest, digest);
	reg_resp_release(&rs);
	return rc;
}

int registry_push_image(struct image_store *st, const char *src_ref, const char *dest_ref,
			const struct registry_opts *o, char digest_out[72], struct error **err)
{
	struct registry_ref r = {0};
	struct image *img = NULL;
	struct reg_client *c = NULL;
	struct reg_progress *pr = NULL;
	struct push p = {0};
	struct registry_stats stats = {0};
	cleanup_free char *stored = NULL, *body = NULL;
	const char **digests = NULL;
	char digest[IMAGE_DIGEST_LEN + 1], hex[SHA256_HEX_LEN + 1];
	uint64_t start = reg_now_ms();
	size_t slen = 0, blen = 0;
	const char *mt;
	CURL *h = NULL;
	int lease, rc = -1;

	if (!dest_ref)
		dest_ref = src_ref;
	if (registry_ref_parse(dest_ref, &r, err) < 0)
		return -1;
	lease = image_store_lease(st, err);
	if (lease < 0)
		goto out;
	if (image_lookup(st, src_ref, &img, err) < 0 ||
	    image_blob_read(st, img->manifest_digest, REG_MAX_MANIFEST, &stored, &slen, err) < 0)
		goto out;
	if (manifest_for_push(img, stored, slen, o->docker_media_types, &body, &blen, &mt, err) < 0)
		goto out;
	sha256_hex(body, blen, hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (r.digest && strcmp(r.digest, digest)) {
		error_usage(err, "'%s' names digest '%s' but the manifest to push is '%s'",
			    dest_ref, r.digest, digest);
		goto out;
	}
	p.n = img->n_layers + 1;
	p.blobs = calloc(p.n, sizeof(*p.blobs));
	digests = calloc(p.n, sizeof(*digests));
	if (!p.blobs || !digests) {
		error_errno(err, "push");
		goto out;
	}
	p.blobs[0].digest = img->config_digest;
	p.blobs[0].size = json_get_int(json_get_obj(img->manifest, "config"), "size", 0);
	for (size_t i = 0; i < img->n_layers; i++) {
		p.blobs[i + 1].digest = img->layers[i].digest;
		p.blobs[i + 1].size = img->layers[i].size;
	}
	for (size_t i = 0; i < p.n; i++)
		digests[i] = p.blobs[i].digest;
	if (reg_client_new(o->data_dir, r.host, r.repo, true, o, &c, err) < 0)
		goto out;
	reg_progress_new(o->progress, o->tty, &pr);
	p.st = st;
	p.c = c;
	p.o = o;
	p.pr = pr;
	h = reg_handle_new(err);
	if (!h || reg_ping(c, h, err) < 0)
		goto out;
	/* Layers first (largest work), config among them; all before the manifest. */
	if (reg_parallel(c, p.n, o->jobs, push_one, &p, err) < 0)
		goto out;
	if (put_manifest(c, h, r.tag ? r.tag : digest, body, blen, mt, digest, err) < 0)
		goto out;
	reg_seen_add(o->data_dir, r.host, r.repo, digests, p.n);
	memcpy(digest_out, digest, sizeof(digest));
	rc = 0;
out:
	stats.bytes_sent = c ? atomic_load(&c->bytes_sent) : 0;
	stats.blobs_uploaded = p.uploaded;
	stats.blobs_mounted = p.mounted;
	stats.blobs_present = p.present;
	stats.ms = reg_now_ms() - start;
	if (rc == 0)
		reg_progress_summary(pr, "pushed", dest_ref, digest, &stats);
	if (o->stats)
		*o->stats = stats;
	reg_progress_free(pr);
	if (h)
		curl_easy_cleanup(h);
	reg_client_free(c);
	free(p.blobs);
	free(digests);
	image_free(img);
	if (lease >= 0)
		image_store_unlease(lease);
	registry_ref_release(&r);
	return rc < 0 ? error_wrap(err, "push '%s'", dest_ref) : 0;
}
