/*
 * scope.h: which namespaces meshcad manages (meshcad(8), NAMESPACES).
 * The rules, in order; the first that decides wins:
 *   1. a namespace on the exclude list is not managed;
 *   2. when the include list is not empty, a namespace not on it is not
 *      managed;
 *   3. when a label selector is set, a namespace it does not select is
 *      not managed;
 *   4. Citadel's label ca.istio.io/override: "true" manages it, "false"
 *      does not (any other value is ignored);
 *   5. when the label ca.istio.io/env is set, it must name the CA
 *      namespace;
 *   6. otherwise it is managed.
 * A namespace being deleted (status.phase Terminating) is not managed:
 * nothing can be created in it.
 */
#ifndef DAEMON_SCOPE_H
#define DAEMON_SCOPE_H

#include <stdbool.h>

#include <jansson.h>

#include "common/err.h"
#include "daemon/config.h"

#define DAEMON_LABEL_OVERRIDE "ca.istio.io/override"
#define DAEMON_LABEL_ENV "ca.istio.io/env"

struct daemon_selector;

/*
 * Parses an equality-based label selector (kubernetes-api.md §2:
 * "k=v", "k==v", "k!=v", "k", "!k", joined by commas). NULL or "" selects
 * everything. NULL with e set on a syntax error.
 */
struct daemon_selector *daemon_selector_parse(const char *s,
    struct mc_err *e);
void daemon_selector_free(struct daemon_selector *sel);

/* True when labels (an object, or NULL for none) match sel. */
bool daemon_selector_matches(const struct daemon_selector *sel,
    const json_t *labels);

/* The rules above for namespace object ns under c (sel parsed from
 * c->namespace_selector; may be NULL when none is set). */
bool daemon_ns_managed(const struct daemon_config *c,
    const struct daemon_selector *sel, const json_t *ns);

#endif /* DAEMON_SCOPE_H */
