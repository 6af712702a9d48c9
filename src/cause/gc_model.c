// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <string.h>
#include "cause/gc_model.h"

/* With no second scan size the slope is unknown: an error of a factor 1.5 either way (1 sigma)
 * stands for it rather than a spread the data cannot give. */
#define UNFITTED_SIGMA	0.405

void pause_fit_points(const double *x, const double *y, size_t n, struct pause_fit *f)
{
	double s11 = 0, s12 = 0, s22 = 0, t1 = 0, t2 = 0, det, lmx = 0, lmy = 0, lsxx = 0, lsxy = 0;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->n = n;
	if (!n)
		return;
	f->xlo = f->xhi = x[0];
	for (i = 0; i < n; i++) {
		lmx += log(x[i]) / n;
		lmy += log(y[i]) / n;
		if (x[i] < f->xlo)
			f->xlo = x[i];
		if (x[i] > f->xhi)
			f->xhi = x[i];
	}
	for (i = 0; i < n; i++) {
		lsxx += (log(x[i]) - lmx) * (log(x[i]) - lmx);
		lsxy += (log(x[i]) - lmx) * (log(y[i]) - lmy);
		/* The line by least squares of relative errors, as the power law's are in logs:
		 * otherwise the largest pauses alone place it and it misses the young ones. */
		s11 += 1 / (y[i] * y[i]);
		s12 += x[i] / (y[i] * y[i]);
		s22 += x[i] * x[i] / (y[i] * y[i]);
		t1 += 1 / y[i];
		t2 += x[i] / y[i];
	}
	f->mean_lx = lmx;
	f->sxx = lsxx;
	f->ok = f->xhi >= 1.5 * f->xlo && lsxx > 0;
	f->k = f->ok ? lsxy / lsxx : 1;
	f->ln_c = lmy - f->k * lmx;
	det = s11 * s22 - s12 * s12;
	if (f->ok && det > 0) {
		f->lin_a = (t1 * s22 - t2 * s12) / det;
		f->lin_b = (s11 * t2 - s12 * t1) / det;
	} else {
		f->lin_a = 0;
		f->lin_b = t2 / s22;	/* through the origin */
	}
	if (n > 2) {
		double r2 = 0;

		for (i = 0; i < n; i++) {
			double r = log(y[i]) - f->ln_c - f->k * log(x[i]);

			r2 += r * r;
		}
		f->s_res = sqrt(r2 / (n - 2));
	}
}

double pause_predict(const struct pause_fit *f, double x, double *sigma_ln)
{
	double lx = log(x), v = exp(f->ln_c + f->k * lx), lin, form, fit;

	if (!f->n) {
		*sigma_ln = NAN;
		return NAN;
	}
	if (!f->ok) {
		*sigma_ln = hypot(f->s_res, UNFITTED_SIGMA);
		return v;
	}
	fit = f->s_res * sqrt(1 + 1.0 / f->n + (lx - f->mean_lx) * (lx - f->mean_lx) / f->sxx);
	/* Half the gap to the straight line; where the line goes below zero (small scans under a
	 * negative intercept) it says nothing, and the fit's own error is all there is. */
	lin = f->lin_a + f->lin_b * x;
	form = lin > 0 ? fabs(log(lin / v)) / 2 : 0;
	*sigma_ln = hypot(fit, form);
	return v;
}

double band95(double sigma_ln)
{
	return exp(1.96 * sigma_ln);
}
