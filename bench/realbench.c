/* The baseline for bench/real.sh: the bare syscalls the real backend makes
 * for `repeat N { socket a; bind a 127.0.0.1:0; close a }`, in a fresh
 * network namespace, printing one line per call. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  if (unshare(CLONE_NEWNET) != 0) { perror("unshare"); return 3; }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  ioctl(s, SIOCGIFFLAGS, &ifr);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) { perror("lo up"); return 3; }
  close(s);
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    printf("socket a: %s\n", fd < 0 ? strerror(errno) : "ok");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = bind(fd, (struct sockaddr *)&sin, sizeof sin);
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *)&sin, &len);
    printf("bind a 127.0.0.1:0: %s 127.0.0.1:%d\n", rc < 0 ? strerror(errno) : "ok", ntohs(sin.sin_port));
    rc = close(fd);
    printf("close a: %s\n", rc < 0 ? strerror(errno) : "ok");
  }
  return 0;
}
