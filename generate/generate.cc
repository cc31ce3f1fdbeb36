#include "generate/generate.h"
