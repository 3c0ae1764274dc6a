; task: sort4
; isa: cmov
; registers: 5
; length: 28
; core_length: 20
; critical_path: 13
; found_by: alphadev search (comparator search ranked by predicted latency (not a proof))
; command: alphadev search --n 4 --isa cmov --method comparators --seed 0 --time-limit 60
; seed: 0
; simulations: 757359
; seconds: 4.68
; verified: 75 tie-pattern rows + 30000 random int32 rows
; cycles_throughput: 5.00
; cycles_latency: 23.00
; optimal: not proved
; native: throughput 0.998x, latency 0.990x the lowered sorting network (AMD EPYC, gcc 12.2.0, -O2)
; objective: latency

mov r0, m0
mov r1, m1
mov r2, m2
mov r3, m3
mov r4, r1
cmp r1, r2
cmovl r1, r2
cmovl r2, r4
mov r4, r0
cmp r3, r4
cmovl r0, r3
cmovl r3, r4
mov r4, r0
cmp r2, r4
cmovl r0, r2
cmovl r2, r4
mov r4, r1
cmp r1, r3
cmovl r1, r3
cmovl r3, r4
mov r4, r2
cmp r2, r3
cmovl r2, r3
cmovg r4, r3
mov m0, r0
mov m1, r4
mov m2, r2
mov m3, r1
