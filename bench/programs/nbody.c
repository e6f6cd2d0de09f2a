/* n-body: a leapfrog-style integration of the Sun and the four gas giants.
 *
 * Kiln benchmark workload (bench/programs). Floating-point heavy, scalar f64 with sqrt; no
 * reassociation and no FMA on either target, so native and wasm compute bit-identical results.
 * Usage: nbody [scale]   (scale multiplies the number of steps; default 1)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NBODIES 5
#define STEPS 10000000

static const double pi = 3.141592653589793;

struct planet {
    double pos[3];
    double vel[3];
    double mass;
};

static struct planet system_[NBODIES];

static void init(void) {
    const double solar = 4.0 * pi * pi;
    const double year = 365.24;
    /* Positions in AU, velocities in AU/day (scaled to AU/year), masses in solar masses. */
    static const double data[NBODIES][7] = {
        {0, 0, 0, 0, 0, 0, 1.0},
        {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
         1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05,
         9.54791938424326609e-04},
        {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
         -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05,
         2.85885980666130812e-04},
        {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
         2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05,
         4.36624404335156298e-05},
        {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
         2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05,
         5.15138902046611451e-05},
    };
    for (int b = 0; b < NBODIES; b++) {
        for (int k = 0; k < 3; k++) {
            system_[b].pos[k] = data[b][k];
            system_[b].vel[k] = data[b][3 + k] * year;
        }
        system_[b].mass = data[b][6] * solar;
    }
    /* Give the Sun the momentum that makes the system's total zero. */
    double p[3] = {0, 0, 0};
    for (int b = 0; b < NBODIES; b++)
        for (int k = 0; k < 3; k++)
            p[k] += system_[b].vel[k] * system_[b].mass;
    for (int k = 0; k < 3; k++)
        system_[0].vel[k] = -p[k] / solar;
}

static double energy(void) {
    double e = 0.0;
    for (int i = 0; i < NBODIES; i++) {
        const struct planet *a = &system_[i];
        e += 0.5 * a->mass *
             (a->vel[0] * a->vel[0] + a->vel[1] * a->vel[1] + a->vel[2] * a->vel[2]);
        for (int j = i + 1; j < NBODIES; j++) {
            const struct planet *b = &system_[j];
            double d[3];
            for (int k = 0; k < 3; k++)
                d[k] = a->pos[k] - b->pos[k];
            e -= a->mass * b->mass / sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        }
    }
    return e;
}

static void step(double dt) {
    for (int i = 0; i < NBODIES; i++) {
        struct planet *a = &system_[i];
        for (int j = i + 1; j < NBODIES; j++) {
            struct planet *b = &system_[j];
            double dx = a->pos[0] - b->pos[0];
            double dy = a->pos[1] - b->pos[1];
            double dz = a->pos[2] - b->pos[2];
            double r2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (r2 * sqrt(r2));
            double ma = a->mass * mag, mb = b->mass * mag;
            a->vel[0] -= dx * mb;
            a->vel[1] -= dy * mb;
            a->vel[2] -= dz * mb;
            b->vel[0] += dx * ma;
            b->vel[1] += dy * ma;
            b->vel[2] += dz * ma;
        }
    }
    for (int i = 0; i < NBODIES; i++)
        for (int k = 0; k < 3; k++)
            system_[i].pos[k] += dt * system_[i].vel[k];
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    init();
    double before = energy();
    long steps = (long)STEPS * scale;
    for (long s = 0; s < steps; s++)
        step(0.01);
    double after = energy();
    printf("energy: %.9f -> %.9f\n", before, after);
    int64_t a = llround(before * 1e12), b = llround(after * 1e12);
    printf("checksum: %016llx\n", (unsigned long long)(a * 31 + b));
    return 0;
}
