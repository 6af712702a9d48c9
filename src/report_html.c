// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cause.h"
int cause_report_main(int argc, char **argv) { return 2; }
