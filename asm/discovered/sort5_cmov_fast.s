; task: sort5
; isa: cmov
; registers: 6
; length: 42
; core_length: 32
; critical_path: 17
; found_by: alphadev search (comparator search ranked by predicted latency (not a proof))
; command: alphadev search --n 5 --isa cmov --method comparators --seed 0 --time-limit 60
; seed: 0
; simulations: 706562
; seconds: 11.86
; verified: 541 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 9.00
; cycles_latency: 24.00
; optimal: not proved
; native: throughput 0.975x, latency 0.913x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, m4
mov r5, r1
cmp r1, r2
cmovl r1, r2
cmovl r2, r5
mov r5, r3
cmp r4, r5
cmovl r3, r4
cmovl r4, r5
mov r5, r0
cmp r0, r2
cmovl r0, r2
cmovl r2, r5
cmp r1, r5
cmovl r0, r1
cmovg r5, r1
mov r1, r3
cmp r1, r2
cmovl r1, r2
cmovl r2, r3
cmp r0, r3
cmovg r3, r0
cmovg r0, r1
cmp r1, r4
cmovl r1, r4
cmovg r0, r4
cmp r4, r5
cmovl r4, r5
cmovl r5, r1
mov r1, r5
cmp r1, r3
cmovl r1, r3
cmovl r3, r5
mov m0, r2
mov m1, r0
mov m2, r3
mov m3, r1
mov m4, r4
