/*
 * fortify_read.c - a C client built with _FORTIFY_SOURCE, so its read()
 * calls are glibc's __read_chk: it must still see the shim's answer to a
 * denied request (tests/t_sock.sh).
 * usage: fortify_read PORT MODEL  - prints the answer's status line.
 */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char req[512], buf[4096];
	size_t off = 0;
	ssize_t r;
	int fd, n;

	if (argc != 3)
		return 2;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return 1;
	n = snprintf(req, sizeof(req), "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n{\"model\":\"%s\"}",
		     strlen(argv[2]) + 12, argv[2]);
	if (write(fd, req, (size_t)n) != n)
		return 1;
	while (off < sizeof(buf) - 1 && (r = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0) {
		off += (size_t)r;
		buf[off] = '\0';
		if (strstr(buf, "\r\n"))
			break;
	}
	buf[off] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	puts(buf);
	return 0;
}
