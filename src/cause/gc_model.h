/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pause model gcpause advise predicts with: a collection's pause as a function of the
 * objects it scans, fitted to one service's own collections, with the error of the fit stated.
 */
#ifndef GCPAUSE_CAUSE_GC_MODEL_H
#define GCPAUSE_CAUSE_GC_MODEL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * pause = c * scanned^k, least squares of ln pause on ln scanned. A power law, not a line: the
 * cost per object grows with the heap scanned (a young generation stays in cache, a heap of
 * hundreds of thousands of objects does not), which a line through the origin misses by 3x on
 * the seed's recordings. The straight line through the same points is kept as a check of the
 * form: between the points both fit, away from them they part, and half their gap (in ln) is
 * counted as model error.
 */
struct pause_fit {
	size_t n;		/* points fitted */
	bool ok;		/* two scan sizes at least 1.5x apart: a slope could be fitted */
	double k, ln_c;		/* ln pause = ln_c + k ln scanned */
	double s_res;		/* residual standard deviation of ln pause (n - 2 dof) */
	double mean_lx, sxx;	/* of ln scanned: the fit's own uncertainty away from the data */
	double lin_a, lin_b;	/* pause = lin_a + lin_b * scanned, least relative squares */
	double xlo, xhi;	/* the scan sizes seen */
};

/* Fits n points (scanned objects, pause ns), each > 0. Without scan sizes at least 1.5x apart,
 * ok is false and the model is proportional (k = 1) through the points' geometric mean. */
void pause_fit_points(const double *x, const double *y, size_t n, struct pause_fit *f);
/* The predicted pause (ns) at scanned objects x, and its standard error in ln units. */
double pause_predict(const struct pause_fit *f, double x, double *sigma_ln);

/* The factor of a 95% band: the value divided and multiplied by it. */
double band95(double sigma_ln);

#endif /* GCPAUSE_CAUSE_GC_MODEL_H */
