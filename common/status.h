/*
 * status.h: the status numbers common/ uses in struct mc_err. They are
 * the values of enum meshca_status (include/meshca/meshca.h), repeated
 * here so that common/ does not depend on the public headers; a static
 * assertion in spiffe/api.c keeps the two in step.
 */
#ifndef MC_STATUS_H
#define MC_STATUS_H

#define MC_ST_OK 0
#define MC_ST_USAGE 1
#define MC_ST_PARSE 2
#define MC_ST_REJECTED 3
#define MC_ST_IO 4
#define MC_ST_NOMEM 5
#define MC_ST_INTERNAL 6

#endif /* MC_STATUS_H */
