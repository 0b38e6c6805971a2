/*
 * Ruin and recreate by string removals (SISR: Christiaens & Vanden Berghe, "Slack Induction by
 * String Removals for Vehicle Routing Problems", Transportation Science 54(2), 2020), written
 * for the planner's routing problem: duties (vehicles) at their own depots with shifts, two
 * capacities, travel-time classes and fixed costs; jobs with demands, hard windows, service
 * times, the duties allowed to serve them and drop penalties. Locked jobs (stops of a released
 * plan) come in the start routes and never move: ruins pass over them, new jobs may go between.
 *
 * It only proposes start routes: OR-Tools reads them, holds every constraint of the full model,
 * searches on and produces the final plan, which independent code then re-checks. Pure C99 plus
 * GCC's __int128, no allocation outside sisr_solve, no global state: safe to call from several
 * processes (and threads) at once.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int64_t i64;
typedef __int128 wide; /* penalties reach 2^61: their sums must not overflow */

/* The instance, as the caller passes it (services/planner/sisr.py mirrors it field by field as a
   ctypes.Structure: any change here goes there too). adj and remote are the search's own. */
typedef struct {
    int nodes, duties, jobs;
    const i64 *dist;    /* nodes x nodes, the objective's arc costs */
    const i64 *travel;  /* classes x nodes x nodes, minutes (or benchmark units) */
    const i64 *service; /* per node */
    const int *duty_node, *duty_class, *duty_shape;
    const i64 *duty_start, *duty_end, *duty_cap, *duty_fixed; /* cap: 2 per duty */
    const int *job_node;
    const i64 *job_open, *job_close, *job_dem, *job_penalty; /* dem: 2 per job */
    const unsigned char *allowed;                            /* jobs x duties */
    const unsigned char *locked;                             /* per job: never moves */
    int *adj;     /* jobs x jobs: every job's jobs, nearest first (itself first); NULL in */
    i64 *remote;  /* per job: distance from the nearest depot, for the recreate orders; NULL in */
} Inst;

typedef struct {
    int *len;         /* per duty */
    int *seq;         /* duties x jobs: the jobs of each route in order */
    i64 *early;       /* earliest service start at each position */
    i64 *late;        /* latest service start keeping the rest of the route feasible */
    i64 *load;        /* 2 per duty */
    i64 *rdist;       /* per duty */
    int *route_of;    /* per job, -1 when unassigned */
    int *pos_of;      /* per job */
    int *un;          /* unassigned jobs */
    int n_un;
    wide cost;
} Sol;

typedef struct {
    uint64_t s;
} Rng;

static inline uint64_t next_u64(Rng *r) {
    /* splitmix64: small, fast, good enough for search decisions */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline double uniform(Rng *r) { return (next_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

static inline int below(Rng *r, int n) { return n <= 1 ? 0 : (int)(next_u64(r) % (uint64_t)n); }

static inline i64 D(const Inst *I, int a, int b) { return I->dist[(i64)a * I->nodes + b]; }

static inline i64 transit(const Inst *I, int cls, int a, int b) {
    return I->service[a] + I->travel[((i64)cls * I->nodes + a) * I->nodes + b];
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Recompute a route's schedule, load and distance; 0 when it breaks a window, shift or capacity. */
static int update_route(const Inst *I, Sol *S, int r) {
    int n = S->len[r], depot = I->duty_node[r], cls = I->duty_class[r], prev = depot, ok = 1;
    int *q = S->seq + (i64)r * I->jobs;
    i64 *e = S->early + (i64)r * I->jobs, *l = S->late + (i64)r * I->jobs;
    i64 t = I->duty_start[r], d = 0, w = 0, v = 0;
    for (int i = 0; i < n; i++) {
        int j = q[i], node = I->job_node[j];
        t += transit(I, cls, prev, node);
        if (t < I->job_open[j]) t = I->job_open[j];
        if (t > I->job_close[j]) ok = 0;
        e[i] = t;
        d += D(I, prev, node);
        w += I->job_dem[2 * j];
        v += I->job_dem[2 * j + 1];
        S->route_of[j] = r;
        S->pos_of[j] = i;
        prev = node;
    }
    if (n > 0) {
        t += transit(I, cls, prev, depot);
        d += D(I, prev, depot);
        if (t > I->duty_end[r]) ok = 0;
    }
    i64 latest = I->duty_end[r];
    int next = depot;
    for (int i = n - 1; i >= 0; i--) {
        int node = I->job_node[q[i]];
        i64 x = latest - transit(I, cls, node, next);
        if (x > I->job_close[q[i]]) x = I->job_close[q[i]];
        l[i] = x;
        latest = x;
        next = node;
    }
    S->load[2 * r] = w;
    S->load[2 * r + 1] = v;
    S->rdist[r] = d;
    if (w > I->duty_cap[2 * r] || v > I->duty_cap[2 * r + 1]) ok = 0;
    return ok;
}

static wide total_cost(const Inst *I, const Sol *S) {
    wide c = 0;
    for (int r = 0; r < I->duties; r++)
        if (S->len[r] > 0) c += S->rdist[r] + I->duty_fixed[r];
    for (int k = 0; k < S->n_un; k++) c += I->job_penalty[S->un[k]];
    return c;
}

static int alloc_sol(const Inst *I, Sol *S) {
    i64 cells = (i64)I->duties * I->jobs;
    S->len = calloc(I->duties, sizeof(int));
    S->seq = calloc(cells, sizeof(int));
    S->early = calloc(cells, sizeof(i64));
    S->late = calloc(cells, sizeof(i64));
    S->load = calloc(2 * (size_t)I->duties, sizeof(i64));
    S->rdist = calloc(I->duties, sizeof(i64));
    S->route_of = calloc(I->jobs, sizeof(int));
    S->pos_of = calloc(I->jobs, sizeof(int));
    S->un = calloc(I->jobs, sizeof(int));
    return S->len && S->seq && S->early && S->late && S->load && S->rdist && S->route_of &&
           S->pos_of && S->un;
}

static void free_sol(Sol *S) {
    free(S->len);
    free(S->seq);
    free(S->early);
    free(S->late);
    free(S->load);
    free(S->rdist);
    free(S->route_of);
    free(S->pos_of);
    free(S->un);
}

/* Copy by route length: O(jobs + duties), a few microseconds even for a thousand jobs. */
static void copy_sol(const Inst *I, Sol *dst, const Sol *src) {
    memcpy(dst->len, src->len, I->duties * sizeof(int));
    for (int r = 0; r < I->duties; r++) {
        i64 off = (i64)r * I->jobs;
        int n = src->len[r];
        memcpy(dst->seq + off, src->seq + off, n * sizeof(int));
        memcpy(dst->early + off, src->early + off, n * sizeof(i64));
        memcpy(dst->late + off, src->late + off, n * sizeof(i64));
    }
    memcpy(dst->load, src->load, 2 * I->duties * sizeof(i64));
    memcpy(dst->rdist, src->rdist, I->duties * sizeof(i64));
    memcpy(dst->route_of, src->route_of, I->jobs * sizeof(int));
    memcpy(dst->pos_of, src->pos_of, I->jobs * sizeof(int));
    memcpy(dst->un, src->un, src->n_un * sizeof(int));
    dst->n_un = src->n_un;
    dst->cost = src->cost;
}

/* Remove the jobs at positions [from, from + count) of route r except [keep, keep + kept)
   and the locked ones. */
static int cut(const Inst *I, Sol *S, int r, int from, int count, int keep, int kept) {
    int *q = S->seq + (i64)r * I->jobs, n = S->len[r], w = from;
    for (int i = from; i < from + count; i++) {
        if ((i >= keep && i < keep + kept) || I->locked[q[i]]) {
            q[w++] = q[i];
        } else {
            S->route_of[q[i]] = -1;
            S->un[S->n_un++] = q[i];
        }
    }
    for (int i = from + count; i < n; i++) q[w++] = q[i];
    S->len[r] = w;
    return update_route(I, S, r);
}

/* Recreate tries a job in the routes of its NEAR_JOBS - 1 nearest jobs (and in every route
   when none of those takes it): at 400 jobs and more a far route rarely holds the cheapest
   position, and scanning all of them was most of an iteration's time. */
#define NEAR_JOBS 40

typedef struct {
    double c_bar;      /* average jobs removed per ruin */
    double l_max;      /* longest string */
    double split_rate; /* share of ruins removing a split string */
    double split_depth;
    double blink;      /* chance of skipping a position while recreating */
} Knobs;

/* SISR ruin: strings of adjacent routes around a random seed job. 0 if a route broke. */
static int ruin(const Inst *I, Sol *S, const Knobs *k, Rng *rng, unsigned char *ruined) {
    int used = 0, assigned = I->jobs - S->n_un;
    for (int r = 0; r < I->duties; r++) used += S->len[r] > 0;
    if (used == 0) return 1;
    double avg = (double)assigned / used;
    double ls_max = k->l_max < avg ? k->l_max : avg;
    double ks_max = 4.0 * k->c_bar / (1.0 + ls_max) - 1.0;
    int strings = (int)(uniform(rng) * ks_max) + 1, done = 0, ok = 1;
    memset(ruined, 0, I->duties);
    const int *near = I->adj + (i64)below(rng, I->jobs) * I->jobs;
    for (int a = 0; a < I->jobs && done < strings; a++) {
        int c = near[a], r = S->route_of[c];
        if (r < 0 || ruined[r]) continue;
        int n = S->len[r], pos = S->pos_of[c];
        double lt_max = ls_max < n ? ls_max : n;
        int lt = (int)(uniform(rng) * lt_max) + 1;
        if (lt > n) lt = n;
        if (lt == n || uniform(rng) >= k->split_rate) {
            int lo = pos - lt + 1 > 0 ? pos - lt + 1 : 0, hi = pos < n - lt ? pos : n - lt;
            int from = lo + below(rng, hi - lo + 1);
            ok &= cut(I, S, r, from, lt, 0, 0);
        } else {
            int m = 1;
            while (lt + m < n && uniform(rng) > k->split_depth) m++;
            int span = lt + m;
            int lo = pos - span + 1 > 0 ? pos - span + 1 : 0, hi = pos < n - span ? pos : n - span;
            int from = lo + below(rng, hi - lo + 1);
            int keep = from + below(rng, lt + 1);
            ok &= cut(I, S, r, from, span, keep, m);
        }
        ruined[r] = 1;
        done++;
    }
    return ok;
}

static void shuffle(Rng *rng, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = below(rng, i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Order the jobs to reinsert: random, largest demand, farthest or nearest first (4:4:2:1). */
static void order_jobs(const Inst *I, Rng *rng, int *a, int n) {
    shuffle(rng, a, n);
    int rule = below(rng, 11);
    if (rule < 4) return;
    for (int i = 1; i < n; i++) { /* insertion sort: a few dozen jobs */
        int x = a[i], j = i - 1;
        for (; j >= 0; j--) {
            int y = a[j], before;
            if (rule < 8)
                before = I->job_dem[2 * x] + I->job_dem[2 * x + 1] >
                         I->job_dem[2 * y] + I->job_dem[2 * y + 1];
            else if (rule < 10)
                before = I->remote[x] > I->remote[y];
            else
                before = I->remote[x] < I->remote[y];
            if (!before) break;
            a[j + 1] = y;
        }
        a[j + 1] = x;
    }
}

/* Routes holding one of u's `near` nearest jobs get near[r] == tick (granular recreate). */
static void mark_near(const Inst *I, const Sol *S, int u, int *near, int tick) {
    const int *adj = I->adj + (i64)u * I->jobs;
    int count = NEAR_JOBS < I->jobs ? NEAR_JOBS : I->jobs;
    for (int a = 1; a < count; a++) {
        int r = S->route_of[adj[a]];
        if (r >= 0) near[r] = tick;
    }
}

/* Greedy insertion with blinks: each job at its cheapest feasible position, else left out.
   Positions are tried in the routes near the job first (and in one empty duty per shape);
   a job that fits none of them but a new route tries every route. */
static void recreate(const Inst *I, Sol *S, const Knobs *k, Rng *rng, int *stamp, int *near,
                     int *tick) {
    int n_left = S->n_un, kept = 0;
    int *todo = S->un;
    order_jobs(I, rng, todo, n_left);
    uint64_t blink = (uint64_t)(k->blink * 18446744073709551615.0);
    for (int t = 0; t < n_left; t++) {
        int u = todo[t], un = I->job_node[u], best_r = -1, best_p = -1;
        i64 best = INT64_MAX, du0 = I->job_dem[2 * u], du1 = I->job_dem[2 * u + 1];
        i64 open = I->job_open[u], close = I->job_close[u];
        const unsigned char *may = I->allowed + (i64)u * I->duties;
        int granular = I->jobs > NEAR_JOBS;
        if (granular) mark_near(I, S, u, near, ++*tick);
    scan:
        ++*tick;
        for (int r = 0; r < I->duties; r++) {
            if (!may[r]) continue;
            int n = S->len[r];
            if (n == 0) { /* empty duties of one shape are interchangeable: try the first */
                if (stamp[I->duty_shape[r]] == *tick) continue;
                stamp[I->duty_shape[r]] = *tick;
            } else if (granular && near[r] != *tick - 1) {
                continue;
            }
            if (S->load[2 * r] + du0 > I->duty_cap[2 * r] ||
                S->load[2 * r + 1] + du1 > I->duty_cap[2 * r + 1])
                continue;
            int depot = I->duty_node[r], cls = I->duty_class[r];
            const int *q = S->seq + (i64)r * I->jobs;
            const i64 *e = S->early + (i64)r * I->jobs, *l = S->late + (i64)r * I->jobs;
            i64 fixed = n == 0 ? I->duty_fixed[r] : 0;
            for (int p = 0; p <= n; p++) {
                int prev = p == 0 ? depot : I->job_node[q[p - 1]];
                i64 ready = p == 0 ? I->duty_start[r] : e[p - 1];
                if (ready > close) break; /* later positions only start later */
                if (blink && next_u64(rng) < blink) continue;
                int next = p == n ? depot : I->job_node[q[p]];
                i64 delta = D(I, prev, un) + D(I, un, next) - D(I, prev, next) + fixed;
                if (delta >= best) continue;
                i64 at = ready + transit(I, cls, prev, un);
                if (at < open) at = open;
                if (at > close) continue;
                i64 then = at + transit(I, cls, un, next);
                if (then > (p == n ? I->duty_end[r] : l[p])) continue;
                best = delta;
                best_r = r;
                best_p = p;
            }
        }
        if (granular && (best_r < 0 || S->len[best_r] == 0)) {
            granular = 0;
            goto scan;
        }
        if (best_r < 0) {
            todo[kept++] = u; /* stays unassigned; todo is S->un, rewritten in place */
            continue;
        }
        int *q = S->seq + (i64)best_r * I->jobs;
        memmove(q + best_p + 1, q + best_p, (S->len[best_r] - best_p) * sizeof(int));
        q[best_p] = u;
        S->len[best_r]++;
        update_route(I, S, best_r);
    }
    S->n_un = kept;
}

typedef struct {
    i64 d;
    int job;
} Near;

static int by_distance(const void *a, const void *b) {
    const Near *x = a, *y = b;
    if (x->d != y->d) return (x->d > y->d) - (x->d < y->d);
    return (x->job > y->job) - (x->job < y->job);
}

/* sizeof(Inst), for the caller to check its mirror of the structure against. */
size_t sisr_inst_size(void) { return sizeof(Inst); }

/*
 * Search for `seconds` from the given routes (or from none) and write the best routes found.
 * Routes in and out: per duty, its jobs then -1 (jobs + duties entries). The temperature falls
 * from t_start to t_end average arcs over a whole search; this call runs the part of that
 * schedule from frac_from to frac_to, so a search can run in slices, each starting from the
 * best routes of the one before. Returns iterations run, -1 when memory ran out, or -2 when
 * a start route holding locked jobs breaks a constraint (the search cannot keep them).
 */
i64 sisr_solve(const Inst *instance, const int *start_routes, double seconds, uint64_t seed,
               double c_bar, double l_max, double t_start, double t_end, double frac_from,
               double frac_to, int *out_routes) {
    Inst I = *instance;
    const int duties = I.duties, jobs = I.jobs;
    const int *duty_node = I.duty_node, *job_node = I.job_node;
    const unsigned char *locked = I.locked;
    Knobs k = {c_bar, l_max, 0.5, 0.01, 0.01};
    Rng rng = {seed * 0x2545F4914F6CDD1DULL + 1};
    double started = now_s();
    Sol a, b, best;
    I.adj = malloc((size_t)jobs * jobs * sizeof(int));
    I.remote = malloc((size_t)jobs * sizeof(i64));
    Near *row = malloc((size_t)jobs * sizeof(Near) + 1);
    int *stamp = calloc((size_t)duties + 1, sizeof(int));
    int *near = calloc((size_t)duties + 1, sizeof(int));
    unsigned char *ruined = malloc((size_t)duties + 1);
    int ok = I.adj && I.remote && row && stamp && near && ruined;
    ok = alloc_sol(&I, &a) & alloc_sol(&I, &b) & alloc_sol(&I, &best) & ok;
    i64 iterations = -1;
    if (!ok) goto done;

    for (int j = 0; j < jobs; j++) {
        int *near = I.adj + (i64)j * jobs;
        for (int x = 0; x < jobs; x++) row[x] = (Near){x == j ? -1 : D(&I, job_node[j], job_node[x]), x};
        qsort(row, jobs, sizeof(Near), by_distance);
        for (int x = 0; x < jobs; x++) near[x] = row[x].job;
        I.remote[j] = INT64_MAX;
        for (int r = 0; r < duties; r++) {
            i64 x = D(&I, duty_node[r], job_node[j]);
            if (x < I.remote[j]) I.remote[j] = x;
        }
    }

    Sol *cur = &a, *cand = &b;
    for (int j = 0; j < jobs; j++) cur->route_of[j] = -1;
    cur->n_un = 0;
    if (start_routes) {
        int at = 0;
        for (int r = 0; r < duties; r++) {
            while (start_routes[at] >= 0) cur->seq[(i64)r * jobs + cur->len[r]++] = start_routes[at++];
            at++;
        }
    }
    for (int r = 0; r < duties; r++) {
        if (!update_route(&I, cur, r)) { /* an infeasible start route: its jobs start over */
            for (int i = 0; i < cur->len[r]; i++) {
                if (locked[cur->seq[(i64)r * jobs + i]]) {
                    iterations = -2;
                    goto done;
                }
                cur->route_of[cur->seq[(i64)r * jobs + i]] = -1;
            }
            cur->len[r] = 0;
            update_route(&I, cur, r);
        }
    }
    for (int j = 0; j < jobs; j++)
        if (cur->route_of[j] < 0) cur->un[cur->n_un++] = j;
    int tick = 0;
    recreate(&I, cur, &k, &rng, stamp, near, &tick);
    cur->cost = total_cost(&I, cur);
    copy_sol(&I, &best, cur);

    /* Temperatures relative to the average arc of the first solution (the paper's 100 and 1
       fit X instances, whose arcs average a few hundred units). */
    int arcs = jobs - cur->n_un;
    for (int r = 0; r < duties; r++) arcs += cur->len[r] > 0;
    double arc = 0;
    for (int r = 0; r < duties; r++) arc += cur->rdist[r];
    arc = arcs > 0 && arc > 0 ? arc / arcs : 1.0;
    double t0 = t_start * arc, t1 = t_end * arc, temp = t0;
    iterations = 0;
    for (;;) {
        if ((iterations & 15) == 0) {
            double frac = (now_s() - started) / seconds;
            if (frac >= 1.0) break;
            temp = t0 * pow(t1 / t0, frac_from + (frac_to - frac_from) * frac);
        }
        iterations++;
        copy_sol(&I, cand, cur);
        if (!ruin(&I, cand, &k, &rng, ruined)) continue; /* a shortcut broke a window */
        recreate(&I, cand, &k, &rng, stamp, near, &tick);
        cand->cost = total_cost(&I, cand);
        double threshold = -temp * log(uniform(&rng) + 1e-300);
        if ((double)(cand->cost - cur->cost) < threshold) {
            Sol *t = cur;
            cur = cand;
            cand = t;
            if (cur->cost < best.cost) copy_sol(&I, &best, cur);
        }
    }
    int at = 0;
    for (int r = 0; r < duties; r++) {
        for (int i = 0; i < best.len[r]; i++) out_routes[at++] = best.seq[(i64)r * jobs + i];
        out_routes[at++] = -1;
    }

done:
    free_sol(&a);
    free_sol(&b);
    free_sol(&best);
    free(I.adj);
    free(I.remote);
    free(row);
    free(stamp);
    free(near);
    free(ruined);
    return iterations;
}
