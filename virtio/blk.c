/* SPDX-License-Identifier: Apache-2.0 */
#include "virtio/blk.h"
#include "core/ember.h"
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SECTOR_SIZE 512ULL

#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO      (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH   (1ULL << 9)

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX    (BLK_QUEUE_SIZE - 2) /* the header and status take two */

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* Config space: capacity (le64), size_max (le32), seg_max (le32). */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
} __attribute__((packed));

/* Updated by the device without a lock: each word is read whole. */
static void metrics_read(void *dev, uint64_t *v)
{
	const struct virtio_blk_stats *s = dev;

	v[0] = __atomic_load_n(&s->read_bytes, __ATOMIC_RELAXED);
	v[1] = __atomic_load_n(&s->write_bytes, __ATOMIC_RELAXED);
	v[2] = __atomic_load_n(&s->reads, __ATOMIC_RELAXED);
	v[3] = __atomic_load_n(&s->writes, __ATOMIC_RELAXED);
	v[4] = __atomic_load_n(&s->flushes, __ATOMIC_RELAXED);
	v[5] = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
}

static const char *const metric_names[] = {
	"read_bytes", "write_bytes", "read_count", "write_count", "flush_count",
	"execute_fails",
};

const struct metrics_kind virtio_blk_metrics = {
	.group = "block",
	.after = "api_server",
	.names = metric_names,
	.n = ARRAY_SIZE(metric_names),
	.read = metrics_read,
};

static void config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = d->priv;
	struct blk_config c = {
		.capacity = b->capacity,
		.seg_max = BLK_SEG_MAX,
	};

	memcpy(data, (uint8_t *)&c + off, len);
}

/*
 * iovecs over the chain's data bytes: readable bytes after the header (OUT)
 * or writable bytes before the status byte (IN). Returns the count.
 */
static int data_iov(const struct virtq_chain *c, bool write, struct iovec *iov, uint64_t *total)
{
	int first = write ? c->nread : 0, n = write ? c->nwrite : c->nread, k = 0;
	uint64_t skip = write ? 0 : sizeof(struct blk_req_hdr);
	uint64_t left = write ? c->write_len - 1 : c->read_len - skip;

	*total = left;
	for (int i = first; i < first + n && left; i++) {
		const struct virtq_buf *buf = &c->buf[i];
		uint64_t off = skip < buf->len ? skip : buf->len;
		uint64_t len = buf->len - off;

		skip -= off;
		if (len > left)
			len = left;
		if (len) {
			iov[k].iov_base = (uint8_t *)buf->host + off;
			iov[k].iov_len = len;
			k++;
			left -= len;
		}
	}
	return k;
}

/* preadv/pwritev all of iov, looping over short transfers. */
static int rw_all(int fd, bool write, struct iovec *iov, int n, uint64_t off, uint64_t total)
{
	while (total) {
		ssize_t r = write ? pwritev(fd, iov, n, off) : preadv(fd, iov, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1; /* an error, or the file shrank under us */
		total -= r;
		off += r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= r;
		}
	}
	return 0;
}

static uint8_t serve(struct virtio_blk *b, const struct virtq_chain *c, uint32_t *written)
{
	static struct iovec iov[VIRTQ_MAX_CHAIN];
	struct blk_req_hdr h;
	uint64_t len, bytes = b->capacity * SECTOR_SIZE;
	int n;

	if (virtq_chain_read(c, 0, &h, sizeof(h)) < sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = h.type == VIRTIO_BLK_T_IN;

		n = data_iov(c, in, iov, &len);
		/* The used length is 32 bits: nothing larger is served. */
		if (len > UINT32_MAX - 1)
			return VIRTIO_BLK_S_IOERR;
		if (h.sector > b->capacity || len > bytes - h.sector * SECTOR_SIZE)
			return VIRTIO_BLK_S_IOERR; /* beyond the end of the disk */
		if (!in && b->spec.read_only)
			return VIRTIO_BLK_S_IOERR;
		if (rw_all(b->fd, !in, iov, n, h.sector * SECTOR_SIZE, len) < 0)
			return VIRTIO_BLK_S_IOERR;
		if (in) {
			*written = len;
			b->stats.reads++;
			b->stats.read_bytes += len;
		} else {
			b->stats.writes++;
			b->stats.write_bytes += len;
		}
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flushes++;
		if (!b->spec.read_only && fdatasync(b->fd) < 0)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = { 0 };
		size_t idlen = strlen(b->spec.id);

		/* Up to 20 bytes, NUL-terminated only when shorter. */
		memcpy(id, b->spec.id, idlen < sizeof(id) ? idlen : sizeof(id));
		len = c->write_len - 1 < sizeof(id) ? c->write_len - 1 : sizeof(id);
		*written = virtq_chain_write(c, 0, id, len);
		return VIRTIO_BLK_S_OK;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void notify(struct virtio_dev *d, int qi)
{
	struct virtio_blk *b = d->priv;
	struct virtq *q = &d->vq[qi];
	struct virtq_chain *c = &b->chain;
	bool pushed = false;
	int budget = VIRTIO_BLK_BUDGET;
	uint64_t bytes = 0;

	do {
		while (virtio_dev_pop(d, qi, c) == 1) {
			uint32_t written = 0;
			uint8_t status;

			if (c->write_len == 0) {
				/* No room for a status byte: nothing can be reported. */
				b->stats.errors++;
				virtq_push(q, c->head, 0);
			} else {
				status = serve(b, c, &written);
				if (status != VIRTIO_BLK_S_OK)
					b->stats.errors++;
				virtq_chain_write(c, c->write_len - 1, &status, 1);
				virtq_push(q, c->head, written + 1);
			}
			pushed = true;
			bytes += c->read_len + c->write_len;
			if (--budget == 0 || bytes >= VIRTIO_BLK_BYTE_BUDGET) {
				/*
				 * A guest that keeps the queue full would hold the VMM
				 * thread: the rest in a later round, the loop's other
				 * sources first.
				 */
				virtio_dev_used(d, qi);
				virtio_dev_reschedule(d, qi);
				return;
			}
		}
	} while (virtq_enable_notify(q));
	if (pushed)
		virtio_dev_used(d, qi);
}

static int activate(struct virtio_dev *d)
{
	(void)d;
	return 0;
}

static void reset(struct virtio_dev *d)
{
	(void)d;
}

static const struct virtio_dev_ops blk_ops = {
	.config_read = config_read,
	.activate = activate,
	.notify = notify,
	.reset = reset,
};

/* Open path for drive s; fd and size in sectors, or -1 with err. */
static int open_backing(const struct drive_spec *s, const char *path, int *fd,
			uint64_t *sectors, char *err, size_t errlen)
{
	struct stat st;
	uint64_t size;

	char why[512];

	*fd = open_host_file(path, s->read_only ? O_RDONLY : O_RDWR, true, why, sizeof(why));
	if (*fd < 0)
		return errorf(err, errlen, "drive %s: %s", s->id, why);
	if (fstat(*fd, &st) < 0) {
		errorf(err, errlen, "drive %s: cannot stat %s: %s", s->id, path, strerror(errno));
		goto fail;
	}
	size = st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(*fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	if (size < SECTOR_SIZE) {
		errorf(err, errlen, "drive %s: %s is smaller than one 512-byte sector", s->id, path);
		goto fail;
	}
	if (size % SECTOR_SIZE)
		warn("drive %s: %s is not a whole number of sectors; the last %llu bytes "
		     "are not visible", s->id, path, (unsigned long long)(size % SECTOR_SIZE));
	*sectors = size / SECTOR_SIZE;
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return -1;
}

int virtio_blk_set_backing(struct virtio_blk *b, const char *path, char *err, size_t errlen)
{
	uint64_t sectors;
	int fd, old;

	if (strlen(path) >= sizeof(b->spec.path))
		return errorf(err, errlen, "drive %s: path too long", b->spec.id);
	if (open_backing(&b->spec, path, &fd, &sectors, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&b->dev.lock);
	old = b->fd;
	b->fd = fd;
	b->capacity = sectors;
	strcpy(b->spec.path, path);
	virtio_dev_config_changed(&b->dev);
	pthread_mutex_unlock(&b->dev.lock);
	close(old);
	return 0;
}

int virtio_blk_create(struct virtio_blk *b, const struct drive_spec *s,
		      const struct guest_mem *mem, struct evloop *loop,
		      char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->spec = *s;
	if (open_backing(s, s->path, &b->fd, &b->capacity, err, errlen) < 0)
		return -1;
	snprintf(b->name, sizeof(b->name), "virtio-blk %s", s->id);
	virtio_dev_init(&b->dev, b->name, VIRTIO_ID_BLOCK, 1, BLK_QUEUE_SIZE, mem, loop);
	b->dev.ops = &blk_ops;
	b->dev.priv = b;
	b->dev.config_len = sizeof(struct blk_config);
	b->dev.host_features = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX |
			       VIRTIO_F_RING_INDIRECT_DESC | VIRTIO_BLK_F_SEG_MAX |
			       VIRTIO_BLK_F_FLUSH | (s->read_only ? VIRTIO_BLK_F_RO : 0);
	return 0;
}
