/* runner/registry-pull.c — pulling an image into the store: the manifest (or the platform's
 * manifest from an index), the config, then the layers concurrently, each streamed at once
 * into the blob store and, through a socket pair, into an unpacking thread that fills
 * $DATA/layers/<diff_id>. Digests and diff_ids are checked before anything is renamed into
 * place; on any failure what this pull added is removed; the tag comes last. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "runner/image/internal.h"
#include "runner/registry-internal.h"

#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ACCEPT_MANIFESTS                                                                           \
	MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_LIST

struct pull_layer {
	struct image_layer l;
	bool added_blob, added_dir;
};

struct pull {
	struct image_store *st;
	struct reg_client *c;
	const struct registry_opts *o;
	struct reg_progress *pr;
	struct pull_layer *layers;
	size_t n;
	atomic_uint downloaded, cached;
};

/* --- small downloads (manifests, config) ------------------------------------------------- */

/* GET path into memory (at most max bytes) and check that it hashes to want (when set).
 * *digest receives what it hashes to. */
static int get_small(struct reg_client *c, CURL *h, const char *path, const char *accept,
		     size_t max, const char *want, const char *what, struct reg_resp *rs,
		     char *digest, struct error **err)
{
	struct reg_req rq = {.method = "GET",
			     .url = path,
			     .fd = -1,
			     .accept = accept,
			     .max_body = max,
			     .follow = true};
	char hex[SHA256_HEX_LEN + 1];

	if (reg_do(c, h, &rq, rs, err) < 0)
		return -1;
	if (rs->status != 200) {
		if (rs->status == 404)
			return error_failed(err, "registry '%s': %s not found in '%s'", c->host,
					    what, c->repo);
		return reg_status_error(c, rs, what, err);
	}
	sha256_hex(rs->body.data ? rs->body.data : "", rs->body.len, hex);
	snprintf(digest, IMAGE_DIGEST_LEN + 1, "sha256:%s", hex);
	if (want && strcmp(want, digest))
		return error_failed(err,
				    "registry '%s': %s: digest mismatch: expected '%s', got '%s'",
				    c->host, what, want, digest);
	atomic_fetch_add(&c->bytes_received, rs->body.len);
	return 0;
}

static bool platform_matches(const json_t *p, const char *want)
{
	char os[64] = "", arch[64] = "", variant[64] = "";
	const char *v = json_get_str(p, "variant", "");

	sscanf(want, "%63[^/]/%63[^/]/%63s", os, arch, variant);
	return !strcmp(json_get_str(p, "os", ""), os) &&
	       !strcmp(json_get_str(p, "architecture", ""), arch) &&
	       (!variant[0] || !strcmp(v, variant));
}

/* Picks the manifest of the platform from an index; returns a borrowed digest. */
static const char *pick_platform(struct reg_client *c, const json_t *index, const char *want,
				 struct error **err)
{
	json_t *ms = json_get_array(index, "manifests"), *m;
	struct buf seen = BUF_INIT(4096);
	size_t i;

	json_array_foreach (ms, i, m) {
		json_t *p = json_get_obj(m, "platform");

		if (p && platform_matches(p, want) &&
		    digest_valid(json_get_str(m, "digest", NULL))) {
			buf_release(&seen);
			return json_get_str(m, "digest", NULL);
		}
		if (p)
			buf_printf(&seen, NULL, "%s%s/%s%s%s", seen.len ? ", " : "",
				   json_get_str(p, "os", "?"), json_get_str(p, "architecture", "?"),
				   json_get_str(p, "variant", NULL) ? "/" : "",
				   json_get_str(p, "variant", ""));
	}
	error_failed(err, "registry '%s': '%s' has no image for platform '%s' (it has: %s)",
		     c->host, c->repo, want, seen.len ? buf_str(&seen) : "none");
	buf_release(&seen);
	return NULL;
}

/* --- layers ------------------------------------------------------------------------------ */

#define SINK_BUF (1u << 20)

struct download {
	struct pull *p;
	char *buf; /* curl hands 16 KiB at a time: write and send in 1 MiB pieces */
	size_t buffered;
	struct image_blob_writer *w;
	int sock; /* to the unpacking thread, or -1 */
	int64_t got, size;
	const struct reg_resp *rs; /* the answer being received */
	bool started;		   /* its first body bytes came */
	int64_t skip;		   /* bytes of it already had (a resume answered 200) */
	bool unpack_gone;	   /* the unpacker stopped reading */
	bool too_much;
	struct error *werr;
	/* the unpacking thread */
	int rsock;
	const char *tmp, *digest;
	struct layer_unpack_result res;
	struct error *uerr;
	int urc;
};

/* Writes data to the blob and to the unpacking thread; false when either refused. */
static bool sink_flush(struct download *d, const char *data, size_t n)
{
	size_t off = 0;

	if (n == 0)
		return true;
	if (image_blob_write(d->w, data, n, &d->werr) < 0)
		return false;
	while (d->sock >= 0 && off < n) {
		ssize_t s = send(d->sock, data + off, n - off, MSG_NOSIGNAL);

		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0) {
			d->unpack_gone = true;
			return false;
		}
		off += (size_t)s;
	}
	return true;
}

static size_t layer_sink(const char *data, size_t n, void *arg)
{
	struct download *d = arg;
	size_t all = n;

	if (!d->started) {
		/* A resumed download answered in full: drop what we have already. */
		d->started = true;
		d->skip = d->rs->status == 200 ? d->got : 0;
	}
	if (d->skip > 0) {
		size_t k = (int64_t)n < d->skip ? n : (size_t)d->skip;

		d->skip -= (int64_t)k;
		data += k;
		n -= k;
		if (n == 0)
			return all;
	}
	if (d->got + (int64_t)n > d->size) {
		d->too_much = true;
		return 0;
	}
	d->got += (int64_t)n;
	if (d->buffered + n > SINK_BUF) {
		if (!sink_flush(d, d->buf, d->buffered))
			return 0;
		d->buffered = 0;
	}
	if (n >= SINK_BUF)
		return sink_flush(d, data, n) ? all : 0;
	memcpy(d->buf + d->buffered, data, n);
	d->buffered += n;
	return all;
}

static void *unpack_main(void *arg)
{
	struct download *d = arg;
	struct layer_limits lim;

	layer_limits_default(&lim);
	d->urc = layer_unpack_fd(d->rsock, d->tmp, d->digest, &lim, NULL, &d->res, &d->uerr);
	/* Stop the sender at once when the unpacking failed. */
	shutdown(d->rsock, SHUT_RDWR);
	return NULL;
}

/* One download attempt of layer l: blob into the store, and (when tmp) unpacked into tmp.
 * *transient: trying again may help. */
static int download_once(struct pull *p, CURL *h, struct pull_layer *pl, const char *tmp,
			 struct reg_slot *slot, bool *transient, struct error **err)
{
	struct reg_client *c = p->c;
	char path[512];
	struct download d = {.p = p,
			     .sock = -1,
			     .rsock = -1,
			     .size = pl->l.size,
			     .tmp = tmp,
			     .digest = pl->l.digest};
	struct reg_req rq = {.method = "GET",
			     .url = path,
			     .fd = -1,
			     .sink = layer_sink,
			     .sink_arg = &d,
			     .follow = true,
			     .once = true,
			     .slot = slot};
	struct reg_resp rs;
	pthread_t tid;
	bool thread = false;
	int rc = -1, sv[2];

	*transient = false;
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", c->repo, pl->l.digest);
	d.buf = malloc(SINK_BUF);
	if (!d.buf)
		return error_errno(err, "layer '%s'", pl->l.digest);
	if (image_blob_begin(p->st, &d.w, err) < 0) {
		free(d.buf);
		return -1;
	}
	if (tmp) {
		int sz = 1 << 20;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			error_errno(err, "layer '%s': socketpair", pl->l.digest);
			goto out;
		}
		d.sock = sv[0];
		d.rsock = sv[1];
		setsockopt(d.sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if (pthread_create(&tid, NULL, unpack_main, &d) != 0) {
			error_set(err, EXIT_INTERNAL, "layer '%s': cannot start unpacking",
				  pl->l.digest);
			goto out;
		}
		thread = true;
	}
	d.rs = &rs;
	for (uint64_t start = reg_now_ms(), delay = 250;;) {
		char range[64];
		bool ok;

		/* After a dropped connection, ask only for the rest: the blob writer and the
		 * unpacking thread simply go on. */
		snprintf(range, sizeof(range), "bytes=%lld-", (long long)d.got);
		rq.range = d.got > 0 ? range : NULL;
		d.started = false;
		rc = reg_do(c, h, &rq, &rs, err);
		ok = rc == 0 && (rs.status == 200 || rs.status == 206);
		if (ok || !rs.transient || d.too_much || d.werr || d.unpack_gone ||
		    atomic_load(&c->cancel) || reg_now_ms() + delay > start + c->retry_ms)
			break;
		log_debug("layer '%s': %s after %lld bytes; resuming", pl->l.digest,
			  rc < 0 && *err ? (*err)->msg : "server error", (long long)d.got);
		error_clear(err);
		reg_resp_release(&rs);
		usleep((useconds_t)(delay * 1000));
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	/* Retried here already: the caller must not start over. */
	*transient = false;
	if (rc == 0 && (rs.status == 200 || rs.status == 206) && !sink_flush(&d, d.buf, d.buffered))
		rc = -1;
	if (d.sock >= 0)
		shutdown(d.sock, SHUT_WR);
	if (thread)
		pthread_join(tid, NULL);
	thread = false;
	if (d.too_much) {
		error_clear(err);
		rc = error_failed(err,
				  "registry '%s': blob '%s' is larger than the %lld bytes the "
				  "manifest says",
				  c->host, pl->l.digest, (long long)pl->l.size);
	} else if (d.werr) {
		error_clear(err);
		*err = steal_pointer(&d.werr);
		rc = -1;
	} else if (d.unpack_gone && d.urc < 0) {
		error_clear(err);
		*err = steal_pointer(&d.uerr);
		rc = -1;
	}
	if (rc < 0 && !*err)
		error_failed(err, "layer '%s': download stopped", pl->l.digest);
	if (rc == 0 && rs.status != 200 && rs.status != 206)
		rc = reg_status_error(c, &rs, "download blob", err);
	reg_resp_release(&rs);
	if (rc < 0)
		goto out;
	if (d.got != pl->l.size) {
		rc = error_failed(
		    err, "registry '%s': blob '%s': got %lld bytes, the manifest says %lld",
		    c->host, pl->l.digest, (long long)d.got, (long long)pl->l.size);
		goto out;
	}
	{
		bool existed = false;
		struct image_blob_writer *w = steal_pointer(&d.w);

		rc = blob_commit_ex(w, pl->l.digest, NULL, NULL, &existed, err);
		if (rc < 0) {
			error_wrap(err, "registry '%s'", c->host);
			goto out;
		}
		pl->added_blob = !existed;
	}
	if (tmp && d.urc < 0) {
		*err = steal_pointer(&d.uerr);
		rc = -1;
	} else if (tmp && strcmp(d.res.diff_id, pl->l.diff_id)) {
		rc = error_failed(err, "layer '%s': its diff_id is '%s', the config says '%s'",
				  pl->l.digest, d.res.diff_id, pl->l.diff_id);
	}
out:
	if (d.sock >= 0)
		shutdown(d.sock, SHUT_RDWR);
	if (thread)
		pthread_join(tid, NULL);
	if (d.sock >= 0)
		close(d.sock);
	if (d.rsock >= 0)
		close(d.rsock);
	image_blob_abort(d.w);
	free(d.buf);
	error_free(d.werr);
	error_free(d.uerr);
	return rc;
}

static int pull_one(void *ctx, size_t i, CURL *h, struct error **err)
{
	struct pull *p = ctx;
	struct pull_layer *pl = &p->layers[i];
	cleanup_free char *dir = store_layer_dir(p->st, pl->l.diff_id);
	struct reg_slot *slot;
	uint64_t start = reg_now_ms(), delay = 250;
	bool have_blob = image_blob_exists(p->st, pl->l.digest);
	struct stat sb;
	bool have_dir;

	if (!dir)
		return error_errno(err, "pull");
	have_dir = stat(dir, &sb) == 0;
	if (have_blob) {
		if (!have_dir) {
			if (store_unpack_layer(p->st, &pl->l, err) < 0)
				return -1;
			pl->added_dir = true;
		}
		atomic_fetch_add(&p->cached, 1);
		reg_slot_done(reg_progress_slot(p->pr, pl->l.digest, pl->l.size), "cached");
		return 0;
	}
	slot = reg_progress_slot(p->pr, pl->l.digest, pl->l.size);
	for (;;) {
		cleanup_free char *tmp = NULL;
		struct error *e = NULL;
		bool transient = false;
		int rc;

		if (!have_dir && (asprintf(&tmp, "%s/.tmp-%.12s-XXXXXX",
					   image_store_layers_dir(p->st), pl->l.diff_id + 7) < 0 ||
				  !mkdtemp(tmp)))
			return error_errno(err, "layer '%s': temp dir", pl->l.digest);
		rc = download_once(p, h, pl, tmp, slot, &transient, &e);
		if (rc == 0 && tmp) {
			if (chmod(tmp, 0755) < 0 || rename(tmp, dir) < 0) {
				if (!((errno == EEXIST || errno == ENOTEMPTY) &&
				      stat(dir, &sb) == 0))
					rc = error_errno(&e, "layer '%s': rename into place",
							 pl->l.digest);
				rm_rf(tmp, NULL);
			} else {
				pl->added_dir = true;
			}
		} else if (tmp) {
			rm_rf(tmp, NULL);
		}
		if (rc == 0)
			break;
		if (!transient || atomic_load(&p->c->cancel) ||
		    reg_now_ms() + delay > start + p->c->retry_ms) {
			*err = e;
			return -1;
		}
		log_debug("layer '%s': %s; downloading it again", pl->l.digest, e->msg);
		error_free(e);
		usleep((useconds_t)(delay * 1000));
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	atomic_fetch_add(&p->downloaded, 1);
	reg_slot_done(slot, "pulled");
	return 0;
}

/* --- the image ---------------------------------------------------------------------------- */

static bool layer_type_known(const char *mt)
{
	return !strcmp(mt, MT_OCI_LAYER) || !strcmp(mt, MT_OCI_LAYER_GZIP) ||
	       !strcmp(mt, MT_OCI_LAYER_ZSTD) || !strcmp(mt, MT_DOCKER_LAYER) ||
	       !strcmp(mt, MT_DOCKER_LAYER_GZIP) || !strcmp(mt, MT_DOCKER_LAYER_ZSTD);
}

/* Fills p->layers from the manifest and the config's diff_ids. */
static int read_layers(struct pull *p, const json_t *man, const json_t *cfg, struct error **err)
{
	json_t *layers = json_get_array(man, "layers"), *l;
	json_t *diff_ids = json_get_array(json_get_obj(cfg, "rootfs"), "diff_ids");
	size_t i;

	if (!layers || !diff_ids || json_array_size(layers) != json_array_size(diff_ids))
		return error_failed(err, "the manifest's layers and the config's diff_ids do not "
					 "match");
	p->n = json_array_size(layers);
	p->layers = calloc(p->n + 1, sizeof(*p->layers));
	if (!p->layers)
		return error_errno(err, "pull");
	json_array_foreach (layers, i, l) {
		struct image_layer *il = &p->layers[i].l;
		const char *d = json_get_str(l, "digest", ""),
			   *mt = json_get_str(l, "mediaType", "");
		const char *di = json_string_value(json_array_get(diff_ids, i));
		int64_t size = json_get_int(l, "size", -1);

		if (!digest_valid(d) || !di || !digest_valid(di) || size < 0)
			return error_failed(err, "layer %zu has an invalid digest or size", i);
		if (!layer_type_known(mt))
			return error_failed(err, "layer '%s' has unsupported media type '%s'", d,
					    mt);
		il->digest = strdup(d);
		il->media_type = strdup(mt);
		il->diff_id = strdup(di);
		il->size = size;
		if (!il->digest || !il->media_type || !il->diff_id)
			return error_errno(err, "pull");
	}
	return 0;
}

/* Removes what a failed pull added. */
static void undo(struct pull *p, const char *const *blobs, size_t nblobs)
{
	for (size_t i = 0; i < p->n; i++) {
		struct pull_layer *pl = &p->layers[i];

		if (pl->added_dir) {
			cleanup_free char *dir = store_layer_dir(p->st, pl->l.diff_id);

			if (dir)
				rm_rf(dir, NULL);
		}
		if (pl->added_blob) {
			cleanup_free char *path = store_blob_path(p->st, pl->l.digest, NULL);

			if (path)
				unlink(path);
		}
	}
	for (size_t i = 0; i < nblobs; i++) {
		cleanup_free char *path = blobs[i] ? store_blob_path(p->st, blobs[i], NULL) : NULL;

		if (path)
			unlink(path);
	}
}

/* Stores a small blob already verified; *added tells whether it is new. */
static int put_small(struct image_store *st, const struct buf *b, const char *digest, bool *added,
		     struct error **err)
{
	*added = false;
	if (image_blob_exists(st, digest))
		return 0;
	if (image_blob_put(st, b->data ? b->data : "", b->len, NULL, err) < 0)
		return -1;
	*added = true;
	return 0;
}

/* The local tag: the reference as given, or NAME:sha256-<hex> for a digest alone. */
static char *local_tag(const char *ref)
{
	struct image_ref ir;
	char *s = NULL;

	if (image_ref_parse(ref, &ir, NULL) < 0)
		return NULL;
	if (ir.tag)
		s = image_ref_name_tag(&ir);
	else if (asprintf(&s, "%s:sha256-%s", ir.name, ir.digest + 7) < 0)
		s = NULL;
	image_ref_release(&ir);
	return s;
}

int registry_pull_image(struct image_store *st, const char *ref, const struct registry_opts *o,
			char digest_out[72], struct error **err)
{
	struct registry_ref r = {0};
	struct reg_client *c = NULL;
	struct reg_progress *pr = NULL;
	struct pull p = {0};
	struct registry_stats stats = {0};
	struct reg_resp man = {0}, cfg = {0};
	json_auto_t *mj = NULL, *cj = NULL;
	char mdigest[IMAGE_DIGEST_LEN + 1], cdigest[IMAGE_DIGEST_LEN + 1], path[1024], what[300];
	const char *added_small[2] = {NULL, NULL};
	bool added = false;
	cleanup_free char *tag = NULL;
	const char *mt, *want_cfg;
	uint64_t start = reg_now_ms();
	CURL *h = NULL;
	int lease = -1, rc = -1;

	if (registry_ref_parse(ref, &r, err) < 0)
		return -1;
	tag = local_tag(ref);
	if (!tag) {
		error_usage(err, "'%s' cannot be a local image name", ref);
		goto out;
	}
	lease = image_store_lease(st, err);
	if (lease < 0 || reg_session_start(o, &r, false, &c, &pr, &h, err) < 0)
		goto out;
	p = (struct pull){.st = st, .c = c, .o = o, .pr = pr};
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", r.repo, r.digest ? r.digest : r.tag);
	snprintf(what, sizeof(what), "manifest '%s'", r.digest ? r.digest : r.tag);
	if (get_small(c, h, path, ACCEPT_MANIFESTS, REG_MAX_MANIFEST, r.digest, what, &man, mdigest,
		      err) < 0)
		goto out;
	if (!r.digest && man.digest && strcmp(man.digest, mdigest)) {
		error_failed(err,
			     "registry '%s': manifest digest mismatch: the registry says '%s', "
			     "the body hashes to '%s'",
			     r.host, man.digest, mdigest);
		goto out;
	}
	mj = json_parse(man.body.data, man.body.len, "manifest", err);
	if (!mj)
		goto out;
	mt = json_get_str(mj, "mediaType", man.content_type ? man.content_type : MT_OCI_MANIFEST);
	if (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST) ||
	    (json_get_array(mj, "manifests") && !json_get_array(mj, "layers"))) {
		const char *plat = o->platform ? o->platform : "linux/amd64";
		const char *d = pick_platform(c, mj, plat, err);
		cleanup_free char *want = d ? strdup(d) : NULL;

		if (!want)
			goto out;
		reg_resp_release(&man);
		json_decref(mj);
		mj = NULL;
		snprintf(path, sizeof(path), "/v2/%s/manifests/%s", r.repo, want);
		snprintf(what, sizeof(what), "manifest '%s' (%s)", want, plat);
		if (get_small(c, h, path, ACCEPT_MANIFESTS, REG_MAX_MANIFEST, want, what, &man,
			      mdigest, err) < 0)
			goto out;
		mj = json_parse(man.body.data, man.body.len, "manifest", err);
		if (!mj)
			goto out;
		mt = json_get_str(mj, "mediaType",
				  man.content_type ? man.content_type : MT_OCI_MANIFEST);
	}
	if (strcmp(mt, MT_OCI_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)) {
		error_failed(err, "registry '%s': '%s' is a '%s', which slipway cannot use", r.host,
			     ref, mt);
		goto out;
	}
	want_cfg = json_get_str(json_get_obj(mj, "config"), "digest", "");
	if (!digest_valid(want_cfg)) {
		error_failed(err, "registry '%s': the manifest has no valid config digest", r.host);
		goto out;
	}
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", r.repo, want_cfg);
	if (get_small(c, h, path, NULL, REG_MAX_CONFIG, want_cfg, "image config", &cfg, cdigest,
		      err) < 0)
		goto out;
	cj = json_parse(cfg.body.data, cfg.body.len, "image config", err);
	if (!cj || read_layers(&p, mj, cj, err) < 0)
		goto out;
	if (put_small(st, &cfg.body, cdigest, &added, err) < 0)
		goto out;
	if (added)
		added_small[0] = cdigest;
	if (reg_parallel(c, p.n, o->jobs, pull_one, &p, err) < 0)
		goto out;
	if (put_small(st, &man.body, mdigest, &added, err) < 0)
		goto out;
	if (added)
		added_small[1] = mdigest;
	/* Last: the tag. The store checks the manifest and config it reads back. */
	{
		struct image *img = NULL;

		if (image_from_manifest(st, mdigest, tag, &img, err) < 0)
			goto out;
		image_free(img);
	}
	if (image_tag_digest(st, tag, mdigest, err) < 0)
		goto out;
	{
		const char **ds = calloc(p.n + 1, sizeof(*ds));

		if (ds) {
			ds[0] = cdigest;
			for (size_t i = 0; i < p.n; i++)
				ds[i + 1] = p.layers[i].l.digest;
			reg_seen_add(o->data_dir, r.host, r.repo, ds, p.n + 1);
			free(ds);
		}
	}
	memcpy(digest_out, mdigest, sizeof(mdigest));
	rc = 0;
out:
	if (rc < 0)
		undo(&p, added_small, 2);
	stats.bytes_received = c ? atomic_load(&c->bytes_received) : 0;
	stats.blobs_downloaded = p.downloaded;
	stats.blobs_cached = p.cached;
	reg_progress_finish(pr, o, &stats, start, rc == 0, "pulled", ref, mdigest);
	if (h)
		curl_easy_cleanup(h);
	reg_client_free(c);
	for (size_t i = 0; i < p.n; i++)
		image_layer_release(&p.layers[i].l);
	free(p.layers);
	reg_resp_release(&man);
	reg_resp_release(&cfg);
	image_store_unlease(lease);
	registry_ref_release(&r);
	return rc < 0 ? error_wrap(err, "pull '%s'", ref) : 0;
}

int registry_ensure_image(struct image_store *st, const char *ref, const struct registry_opts *o,
			  struct error **err)
{
	struct image *img = NULL;
	struct error *e = NULL;
	char digest[IMAGE_DIGEST_LEN + 1];

	if (image_lookup(st, ref, &img, &e) == 0) {
		image_free(img);
		return 0;
	}
	/* Only "not there" leads to a pull; a broken store entry is reported as it is. */
	if (e->exit_code != EXIT_FAILED || !strstr(e->msg, "no such image")) {
		if (err && !*err)
			*err = e;
		else
			error_free(e);
		return -1;
	}
	error_free(e);
	return registry_pull_image(st, ref, o, digest, err);
}
