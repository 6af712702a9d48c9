/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GCPAUSE_UTIL_VERSION_H
#define GCPAUSE_UTIL_VERSION_H

#define GCPAUSE_VERSION		"0.1.0"

#endif /* GCPAUSE_UTIL_VERSION_H */
