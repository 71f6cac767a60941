/* The weather services of seed 003's examples 2 and 3. */
#ifndef CORRAL_EXAMPLE_WEATHER_H
#define CORRAL_EXAMPLE_WEATHER_H

#include "common.h"

typedef struct {
  const char *service;
  int temperature;
  const char *conditions;
} weather;

typedef struct {
  const char *name;
  int64_t delay;
  weather out;
} weather_job;

static int fetch_weather_service(void *arg, void **result) {
  weather_job *j = arg;
  printf("[%s] Fetching weather...\n", j->name);
  int rc = corral_sleep(j->delay);
  if (rc) return rc;
  j->out = (weather){j->name, 72, "Partly cloudy"};
  *result = &j->out;
  return 0;
}

static weather_job weather_jobs[4] = {
    {"OpenWeatherMap", CORRAL_MS(1000), {0}},
    {"WeatherAPI", CORRAL_MS(1200), {0}},
    {"NOAA", CORRAL_MS(1500), {0}},
    {"LocalRadar", CORRAL_MS(800), {0}},
};

#endif
