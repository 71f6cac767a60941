/* Seed 003, examples 2 and 3 for real: gather() over 10 weather services
 * over HTTP. Eight answer (from nginx, and from the fixture after 0.8 to
 * 1.5 s), one fails with 503, one would take 30 s: gather with
 * return_exceptions and a 3 s timeout keeps every result that arrived, in
 * input order, reports the failure and the timeout, and leaves nothing
 * running. */
#include "http_common.h"

typedef struct {
  const char *name;
  const char *path; /* on nginx, or on the fixture when fixture = 1 */
  int fixture;
  int temperature;
  char conditions[32];
} service;

static service services[10] = {
    {"OpenWeatherMap", "/delay/1000/OpenWeatherMap", 1, 0, ""},
    {"WeatherAPI", "/delay/1200/WeatherAPI", 1, 0, ""},
    {"NOAA", "/delay/1500/NOAA", 1, 0, ""},
    {"LocalRadar", "/delay/800/LocalRadar", 1, 0, ""},
    {"AccuWeather", "/weather/AccuWeather.json", 0, 0, ""},
    {"Weatherbit", "/weather/Weatherbit.json", 0, 0, ""},
    {"Tomorrow", "/weather/Tomorrow.json", 0, 0, ""},
    {"MeteoSwiss", "/weather/MeteoSwiss.json", 0, 0, ""},
    {"DWD", "/delay/30000/DWD", 1, 0, ""},           /* too slow */
    {"MetOffice", "/status/503?ms=300", 1, 0, ""},   /* failing */
};

static int fetch_weather_service(void *arg, void **result) {
  service *s = arg;
  char u[256];
  ex_url(u, sizeof u, s->fixture ? ex_srv.fixture_port : ex_srv.nginx_port,
         s->path);
  printf("[%s] Fetching weather...\n", s->name);
  corral_http_response r;
  int rc = ex_get_ok(u, &r);
  if (rc) return rc;
  s->temperature = ex_json_int(r.body, "temperature", -999);
  ex_json_str(r.body, "conditions", s->conditions, sizeof s->conditions);
  corral_http_response_free(&r);
  *result = s;
  return 0;
}

static int body(void *arg, void **result) {
  (void)arg, (void)result;
  corral_call calls[10];
  corral_outcome out[10];
  for (int i = 0; i < 10; i++)
    calls[i] = (corral_call){fetch_weather_service, &services[i],
                             services[i].name};
  ex_start();
  corral_gather_opts o = {.policy = CORRAL_GATHER_ALL, .timeout_ns = CORRAL_SEC(3)};
  int rc = corral_gather(calls, 10, out, &o);
  double elapsed = ex_elapsed();
  int ok = 0, failed = 0, timed_out = 0;
  for (int i = 0; i < 10; i++) {
    ok += out[i].status == CORRAL_STATUS_OK;
    failed += out[i].status == CORRAL_STATUS_ERROR;
    timed_out += out[i].status == CORRAL_STATUS_TIMED_OUT;
  }
  printf("\nFetched from %d of 10 services in %.2fs (%s)\n", ok, elapsed,
         rc ? corral_err_name(rc) : "OK");
  for (int i = 0; i < 10; i++) { /* input order */
    const service *s = &services[i];
    if (out[i].status == CORRAL_STATUS_OK)
      printf("  %-15s %s at %d\u00b0F\n", s->name, s->conditions,
             s->temperature);
    else if (out[i].status == CORRAL_STATUS_ERROR)
      printf("  %-15s failed: %s\n", s->name,
             corral_error_message(out[i].error));
    else
      printf("  %-15s %s\n", s->name, corral_status_name(out[i].status));
  }
  corral_outcomes_clear(out, 10);
  corral_http_client_stats st;
  corral_http_client_stats_get(ex_http, &st);
  printf("Requests in flight after gather: %llu\n",
         (unsigned long long)st.in_flight);
  /* Behaved: 8 results, the 503 reported, the slow one timed out. */
  return ok == 8 && failed == 1 && timed_out == 1 && st.in_flight == 0
             ? 0
             : CORRAL_EIO;
}

int main(int argc, char **argv) { return ex_http_run(argc, argv, body); }
