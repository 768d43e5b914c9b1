/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apibench: the API figures of ember (or any VMM that serves Firecracker's API).
 *
 *   apibench RUNS REQS VMM [ARG]...
 *
 * 1. RUNS times: fork+exec "VMM ARG... --api-sock SOCK", then connect to SOCK
 *    until it accepts. Wall time from fork to the first accepted connect, and
 *    the CPU time the VMM's threads had used by then (from
 *    /proc/PID/task/TID/schedstat, once the VMM is idle), then SIGTERM and reap.
 * 2. Once: REQS keep-alive requests each of GET / and PUT /drives/rootfs on one
 *    connection, each timed from send to the full response.
 * Prints "startup-wall-us", "startup-cpu-us", "get-root-us", "put-drive-us"
 * lines with median, p10, p90, p99 and N. Figures only: nothing is asserted.
 *
 * Through a jailer: APIBENCH_SOCK is the --api-sock path as the VMM sees it
 * (e.g. /api.sock in the jail) and APIBENCH_CONNECT the same socket as seen
 * from here (<base>/ember/<id>/root/api.sock). REQS 0 skips part 2.
 */
#define TOOL_NAME "apibench"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int try_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static pid_t spawn(char **argv, const char *sock)
{
	pid_t pid = fork();

	if (pid == 0) {
		int n = 0, devnull = open("/dev/null", O_RDWR);
		char **av;

		while (argv[n])
			n++;
		av = calloc(n + 3, sizeof(*av));
		memcpy(av, argv, n * sizeof(*av));
		av[n] = "--api-sock";
		av[n + 1] = (char *)sock;
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(av[0], av);
		_exit(127);
	}
	return pid;
}

/* Send one request and read one full response (headers + Content-Length body). */
static int roundtrip(int fd, const char *req, size_t len)
{
	char buf[4096];
	size_t got = 0;

	if (write(fd, req, len) != (ssize_t)len)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		char *end;
		long body = 0;

		if (r <= 0)
			return -1;
		got += r;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (strstr(buf, "Content-Length: "))
			body = strtol(strstr(buf, "Content-Length: ") + 16, NULL, 10);
		if (got >= (size_t)(end + 4 - buf) + body)
			return atoi(buf + 9); /* the status code */
	}
}

int main(int argc, char **argv)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	char sock[108], conn[108], put[512], disk[64], body[256];
	int runs, reqs, fd = -1, fd2;
	double *wall, *cpu, *lat;
	pid_t pid;

	if (argc < 4 || (runs = atoi(argv[1])) < 1 || (reqs = atoi(argv[2])) < 0) {
		fprintf(stderr, "usage: apibench RUNS REQS VMM [ARG]...\n");
		return 2;
	}
	snprintf(sock, sizeof(sock), "/tmp/apibench-%d.sock", (int)getpid());
	if (getenv("APIBENCH_SOCK"))
		snprintf(sock, sizeof(sock), "%s", getenv("APIBENCH_SOCK"));
	snprintf(conn, sizeof(conn), "%s", getenv("APIBENCH_CONNECT") ? getenv("APIBENCH_CONNECT") : sock);
	wall = calloc(runs, sizeof(*wall));
	cpu = calloc(runs, sizeof(*cpu));
	lat = calloc(reqs, sizeof(*lat));
	for (int i = 0; i < runs; i++) {
		double t0 = now_us(), deadline = t0 + 5e6;
		int status;

		unlink(conn);
		pid = spawn(argv + 3, sock);
		while ((fd = try_connect(conn)) < 0 && now_us() < deadline)
			;
		if (fd < 0) {
			fprintf(stderr, "apibench: %s never accepted on %s\n", argv[3], conn);
			kill(pid, SIGKILL);
			return 1;
		}
		wall[i] = now_us() - t0;
		/*
		 * schedstat counts a thread's time when it leaves the CPU: let the
		 * VMM settle into its idle epoll_wait (costs it no CPU) first.
		 */
		usleep(20000);
		cpu[i] = threads_cpu_us(pid, NULL);
		close(fd);
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
	}
	report_stats("startup-wall-us", wall, runs);
	report_stats("startup-cpu-us", cpu, runs);
	if (reqs == 0)
		return 0;

	unlink(conn);
	pid = spawn(argv + 3, sock);
	for (double deadline = now_us() + 5e6; (fd = try_connect(conn)) < 0 && now_us() < deadline;)
		;
	if (fd < 0) {
		kill(pid, SIGKILL);
		return 1;
	}
	for (int i = 0; i < reqs; i++) {
		double t0 = now_us();

		if (roundtrip(fd, get, sizeof(get) - 1) != 200) {
			fprintf(stderr, "apibench: GET / failed\n");
			return 1;
		}
		lat[i] = now_us() - t0;
	}
	report_stats("get-root-us", lat, reqs);
	/* A drive must be a regular file (or a disk): one sector of zeros. */
	snprintf(disk, sizeof(disk), "/tmp/apibench-%d.img", (int)getpid());
	fd2 = open(disk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd2 < 0 || ftruncate(fd2, 512) < 0) {
		fprintf(stderr, "apibench: cannot make %s\n", disk);
		return 1;
	}
	close(fd2);
	snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": true, \"is_read_only\": true}", disk);
	snprintf(put, sizeof(put), "PUT /drives/rootfs HTTP/1.1\r\nHost: localhost\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	for (int i = 0; i < reqs; i++) {
		double t0 = now_us();

		if (roundtrip(fd, put, strlen(put)) != 204) {
			fprintf(stderr, "apibench: PUT /drives/rootfs failed\n");
			unlink(disk);
			return 1;
		}
		lat[i] = now_us() - t0;
	}
	report_stats("put-drive-us", lat, reqs);
	unlink(disk);
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(conn);
	return 0;
}
