// Placeholder: replaced by the generator.
#ifndef PULSE_GENERATE_GENERATE_H_
#define PULSE_GENERATE_GENERATE_H_
#endif
